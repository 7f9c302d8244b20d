// Plain words for counts and for the ids the server names things by.

/** "1 member", "2 members", "0 members"; `many` for irregular plurals ("1 entry", "3 entries"). */
export function count(n: number, one: string, many = `${one}s`): string {
  return `${n.toLocaleString('en-US')} ${n === 1 ? one : many}`;
}

export interface Names {
  members?: ReadonlyMap<number, string>;
  apps?: ReadonlyMap<number, string>;
}

/**
 * An audit target in people's words: "member 4" becomes the member's name and "app 2 key 9"
 * the app's name and key. Anything it does not know stays as the server wrote it.
 */
export function auditTarget(target: string | null | undefined, names: Names): string {
  if (!target) return '—';
  let m = /^(?:member|user) (\d+)$/.exec(target);
  if (m) return names.members?.get(Number(m[1])) ?? target;
  m = /^app (\d+)(?: key (\d+))?$/.exec(target);
  if (m) {
    const app = names.apps?.get(Number(m[1]));
    if (app) return m[2] ? `${app}, key ${m[2]}` : app;
  }
  return target;
}
