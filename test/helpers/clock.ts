import type { Clock } from '../../src/store/types.js';

/** A clock that moves only when a test moves it (tests never sleep). */
export function testClock(start: number): { now: Clock; set(ms: number): void; advance(ms: number): void } {
  let t = start;
  return {
    now: () => t,
    set: (ms) => void (t = ms),
    advance: (ms) => void (t += ms),
  };
}
