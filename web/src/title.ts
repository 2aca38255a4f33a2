// The document title: the router (App) names every page; a page may give a more specific name
// (e.g. the token it shows) with usePageTitle. The title reads "PAGE · ORG · Chainloop".
import { createContext, useContext, useEffect } from 'react';

export const PageTitleContext = createContext<(title: string | null) => void>(() => {});

// Names the current page `title` while it is shown (null: the router's name for it).
export function usePageTitle(title: string | null): void {
  const set = useContext(PageTitleContext);
  useEffect(() => {
    set(title);
    return () => set(null);
  }, [title, set]);
}

export function documentTitle(page: string, org?: string): string {
  return [page, org, 'Chainloop'].filter(Boolean).join(' · ');
}
