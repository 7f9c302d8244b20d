// Glue between the URL, the session and the filter bar, shared by the ranged pages.

import type { FilterName, Option } from './filters';
import { clearPatch } from './filters';
import type { RangeContext, RangeSelection } from './range';
import { rangeToQuery } from './range';
import { router } from './router.svelte';
import { session } from './session.svelte';

export function rangeContext(): RangeContext {
  return { now: new Date(), timeZone: session.timeZone, cycle: session.settings?.cycle ?? null };
}

export const viewHandlers = {
  onrange: (sel: RangeSelection) => router.updateQuery(rangeToQuery(sel)),
  onfilter: (k: FilterName, v: string) => router.updateQuery({ [k]: v }),
  onclear: () => router.updateQuery(clearPatch()),
};

/** Billing-source choices: the delegations I receive. */
export function receivedSources(): Option[] {
  return session.received.map((d) => ({
    value: String(d.id),
    label: `From ${d.granterName}${d.note ? ` (${d.note})` : ''}`,
  }));
}
