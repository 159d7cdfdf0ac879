/** `log`: what the guest says, to the plugin's log (level names as the guest spells them). */
import type { Capability, GuestLevel } from '../../runtime/capability.js';

/** Maps a guest-supplied level to ours: "warning" is warn, unknown levels log at info. */
export function guestLevel(level: string): GuestLevel {
  const v = level.trim().toLowerCase();
  if (v === 'warning') return 'warn';
  if (v === 'trace' || v === 'debug' || v === 'info' || v === 'warn' || v === 'error') return v;
  return 'info';
}

const I = 'i32' as const;

export const log: Capability<null> = {
  name: 'log',
  imports: [{ name: 'log', params: [I, I, I, I], results: [], returnsData: false, ranges: ['level', 'message'] }],
  codes: [],
  prepare: () => null,
  implement: (io) => ({
    // Text that is only shown: bad UTF-8 is replaced, never refused.
    log(lp: number, ll: number, mp: number, ml: number): void {
      const level = io.text('log', 'level', lp, ll);
      const msg = io.text('log', 'message', mp, ml);
      io.ctx.log(guestLevel(level), msg, 'guest');
    },
  }),
};
