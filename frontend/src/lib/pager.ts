// One pager for the paged logs (the usage log, the granted usage): the first page of a query,
// "load more" after it, and a guard against answers that arrive after the query changed. The
// state lives in an object the page owns (a $state proxy in a component), so the page renders
// it and this module only writes it.

import { appendPage } from './filters';

export interface PageReply<T> {
  items?: T[] | null;
  nextCursor?: string | null;
}

/** Reads one page of a query: the first when cursor is undefined. */
export type FetchPage<T> = (cursor: string | undefined) => Promise<PageReply<T>>;

export interface PagerState<T> {
  items: T[];
  nextCursor: string | null;
  loading: boolean;
  loadingMore: boolean;
  error: unknown;
  moreError: unknown;
}

export function pagerState<T>(): PagerState<T> {
  return { items: [], nextCursor: null, loading: true, loadingMore: false, error: null, moreError: null };
}

export interface Pager<T> {
  /** Loads the first page of a new query; an older query's answers are dropped from now on. Resolves true when this query's page was shown. */
  load(fetch: FetchPage<T>): Promise<boolean>;
  /** Appends the next page of the current query; dropped if the query changed meanwhile. */
  more(): Promise<void>;
  /** Whether a query is still the latest: for work a page does alongside (totals, charts). */
  current(): number;
  isCurrent(gen: number): boolean;
}

export function createPager<T extends { id: unknown }>(state: PagerState<T>): Pager<T> {
  let generation = 0;
  let fetchPage: FetchPage<T> | null = null;
  return {
    async load(fetch) {
      const gen = ++generation;
      fetchPage = fetch;
      state.loading = true;
      state.loadingMore = false;
      state.error = null;
      state.moreError = null;
      try {
        const page = await fetch(undefined);
        if (gen !== generation) return false;
        state.items = page.items ?? [];
        state.nextCursor = page.nextCursor ?? null;
        return true;
      } catch (e) {
        if (gen === generation) state.error = e;
        return false;
      } finally {
        if (gen === generation) state.loading = false;
      }
    },
    async more() {
      const cursor = state.nextCursor;
      const fetch = fetchPage;
      if (!cursor || !fetch || state.loadingMore || state.loading) return;
      // The cursor and the query are the ones the shown rows came from: a page of another
      // query never follows them.
      const gen = generation;
      state.loadingMore = true;
      state.moreError = null;
      try {
        const page = await fetch(cursor);
        if (gen !== generation) return;
        state.items = appendPage(state.items, page.items ?? []);
        state.nextCursor = page.nextCursor ?? null;
      } catch (e) {
        if (gen === generation) state.moreError = e;
      } finally {
        if (gen === generation) state.loadingMore = false;
      }
    },
    current: () => generation,
    isCurrent: (gen) => gen === generation,
  };
}
