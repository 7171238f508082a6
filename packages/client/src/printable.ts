/**
 * Text for a terminal. What a server says (org names, emails, error descriptions, user
 * agents, audit details) reaches the person's terminal, and a terminal obeys what it is
 * sent: ESC and CSI (C1 U+009B) sequences move the cursor, clear the screen, retitle the
 * window or write the clipboard; a carriage return overwrites a line; bidi overrides
 * reorder what is shown. So every such character is written as a `\uXXXX` escape instead:
 * readable, and inside a JSON string the very escape JSON uses, so `--json` output stays
 * valid JSON that parses to the server's exact text.
 */

/** C0 controls but tab and newline, DEL, C1, line/paragraph separators, bidi embeddings, overrides and isolates. */
const UNSAFE_IN_OUTPUT = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;
/** The same, and tab and newline too: inside one value (a cell, a name) they would fake a line or a column. */
const UNSAFE_IN_VALUE = /[\u0000-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const escape = (char: string) => `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;

/** One value inside a line (a table cell, a name in a sentence, an error message): nothing in it controls the terminal. */
export const printable = (value: string): string => value.replace(UNSAFE_IN_VALUE, escape);

/**
 * Whole output on its way to stdout or stderr (main.ts applies it to everything a command
 * writes): the lines and columns the CLI makes itself stay, every other control is escaped.
 */
export const printableOutput = (text: string): string => text.replace(UNSAFE_IN_OUTPUT, escape);
