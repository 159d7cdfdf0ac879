/**
 * Reads the function export names of a .wasm file without compiling it, so `bext plugin list`
 * can show which hooks a plugin implements cheaply even for large modules.
 */
export class ExportsReadError extends Error {}

/** Function export names, in file order. Throws ExportsReadError when the bytes are not a module. */
export function functionExports(bytes: Uint8Array): string[] {
  const magic = [0x00, 0x61, 0x73, 0x6d];
  if (bytes.length < 8 || magic.some((b, i) => bytes[i] !== b)) throw new ExportsReadError('not a WebAssembly binary');
  let pos = 8;
  const u32 = (): number => {
    let result = 0;
    let shift = 0;
    for (;;) {
      if (pos >= bytes.length) throw new ExportsReadError(`truncated at offset ${pos}`);
      const b = bytes[pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if ((b & 0x80) === 0) return result;
      shift += 7;
      if (shift > 35) throw new ExportsReadError(`bad LEB128 at offset ${pos}`);
    }
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  while (pos < bytes.length) {
    const id = bytes[pos++]!;
    const size = u32();
    const end = pos + size;
    if (end > bytes.length) throw new ExportsReadError(`section ${id} runs past the end of the file`);
    if (id === 7) {
      const names: string[] = [];
      const count = u32();
      for (let i = 0; i < count; i++) {
        const len = u32();
        if (pos + len > end) throw new ExportsReadError('export name runs past its section');
        const name = decoder.decode(bytes.subarray(pos, pos + len));
        pos += len;
        const kind = bytes[pos++];
        u32();
        if (kind === 0) names.push(name);
      }
      return names;
    }
    pos = end;
  }
  return [];
}
