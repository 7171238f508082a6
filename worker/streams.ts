/**
 * Bounded reads of a body the server did not write (a request's, a resolver's answer): at
 * most `maxBytes` are ever held, and what is past them is the caller's to refuse.
 */

/**
 * The stream's bytes, when they are at most `maxBytes`. Past that, `refuse` gets the reader
 * (to cancel it, or drain it so the client reads the refusal) and the bytes seen so far,
 * and its error is thrown.
 */
export async function readCapped(
  body: ReadableStream<Uint8Array>,
  maxBytes: number,
  refuse: (reader: ReadableStreamDefaultReader<Uint8Array>, readBytes: number) => Promise<Error>,
): Promise<Uint8Array> {
  const reader = body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) throw await refuse(reader, size);
    chunks.push(value);
  }
  const bytes = new Uint8Array(size);
  let offset = 0;
  for (const chunk of chunks) {
    bytes.set(chunk, offset);
    offset += chunk.byteLength;
  }
  return bytes;
}

/** UTF-8, a leading BOM dropped; a malformed sequence throws (TypeError) instead of becoming U+FFFD. */
export const strictUtf8 = (bytes: Uint8Array): string =>
  new TextDecoder('utf-8', { fatal: true, ignoreBOM: false }).decode(bytes);
