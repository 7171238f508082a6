/**
 * A word for a POSIX shell, single-quoted: what the CLI prints for a person to paste (`ln
 * -s …`, `export …`) or writes where a shell will run it (git's `!` helper line). Inside
 * single quotes nothing is special but the quote itself, written as '\''.
 */
export const shellWord = (word: string): string => `'${word.replaceAll("'", `'\\''`)}'`;
