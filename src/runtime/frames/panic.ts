/**
 * A Rust panic's message, found in what the guest wrote to stderr during the call that trapped.
 * Rust's default hook prints `thread '…' panicked at 'MSG', FILE:L:C` (before Rust 1.73) or
 * `thread '…' panicked at FILE:L:C:` followed by the message lines (since), then aborts, which
 * wasm32-wasi turns into `unreachable`: the trap alone says nothing about the bug.
 */

const OLD_STYLE = /^thread '.*' panicked at '([\s\S]*)', (\S+:\d+:\d+)$/;
const NEW_STYLE = /^thread '.*' panicked at (\S+:\d+:\d+):$/;

/** `MSG at FILE:L:C`, from the last panic among `lines`, if any. */
export function panicMessage(lines: readonly string[]): string | undefined {
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!;
    const old = OLD_STYLE.exec(line);
    if (old) return `${old[1]} at ${old[2]}`;
    const cur = NEW_STYLE.exec(line);
    if (cur) {
      const msg: string[] = [];
      for (let j = i + 1; j < lines.length && !lines[j]!.startsWith('note: '); j++) msg.push(lines[j]!);
      return `${msg.join('\n') || 'panicked'} at ${cur[1]}`;
    }
  }
  return undefined;
}
