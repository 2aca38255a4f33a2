// Lists read a page at a time ("Load more" follows the API's next_cursor): usePages holds the rows
// shown so far and the cursor of the next page, and drops answers to loads that a newer one
// (another key, a reload) superseded; LoadMore is the button with the error of the last attempt.
import { useCallback, useEffect, useRef, useState } from 'react';
import type { ListPage } from '../api';
import { messageOf } from './States';

export type Pages<T> =
  | { status: 'loading' }
  | { status: 'error'; error: unknown }
  | { status: 'done'; rows: T[]; next: string | null; more: 'idle' | 'loading' | string };

// `load(cursor)` reads one page (cursor null: the first). A new `key` starts again from the
// first page; `enabled` false loads nothing (the caller shows why).
export function usePages<T>(
  load: (cursor: string | null) => Promise<ListPage<T>>,
  key: string,
  enabled = true,
): { pages: Pages<T>; reload: () => void; loadMore: () => void } {
  const [pages, setPages] = useState<Pages<T>>({ status: 'loading' });
  const round = useRef(0);
  const loadRef = useRef(load);
  loadRef.current = load;

  const reload = useCallback(() => {
    if (!enabled) return;
    const mine = ++round.current;
    setPages({ status: 'loading' });
    loadRef.current(null).then(
      (p) => mine === round.current && setPages({ status: 'done', rows: p.items, next: p.next_cursor, more: 'idle' }),
      (error) => mine === round.current && setPages({ status: 'error', error }),
    );
  }, [key, enabled]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(reload, [reload]);

  const loadMore = () => {
    if (pages.status !== 'done' || !pages.next || pages.more === 'loading') return;
    const mine = round.current;
    const cursor = pages.next;
    setPages({ ...pages, more: 'loading' });
    loadRef.current(cursor).then(
      (p) =>
        mine === round.current &&
        setPages((s) =>
          s.status === 'done' ? { status: 'done', rows: [...s.rows, ...p.items], next: p.next_cursor, more: 'idle' } : s,
        ),
      (error) => mine === round.current && setPages((s) => (s.status === 'done' ? { ...s, more: messageOf(error) } : s)),
    );
  };
  return { pages, reload, loadMore };
}

// The "Load more" button while there is a next page, and the error of the last attempt.
export function LoadMore<T>({ pages, onMore }: { pages: Pages<T>; onMore: () => void }) {
  if (pages.status !== 'done' || !pages.next) return null;
  return (
    <div className="load-more">
      <button type="button" className="btn" onClick={onMore} disabled={pages.more === 'loading'}>
        {pages.more === 'loading' ? 'Loading…' : 'Load more'}
      </button>
      {pages.more !== 'idle' && pages.more !== 'loading' && (
        <p className="inline-error" role="alert">
          {pages.more}
        </p>
      )}
    </div>
  );
}
