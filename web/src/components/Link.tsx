// An in-app link: a real <a href> (keyboard, middle-click, copy link) that navigates with
// pushState on a plain click.
import type { AnchorHTMLAttributes, MouseEvent } from 'react';
import { navigate } from '../router';

export function Link({ href, onClick, ...rest }: AnchorHTMLAttributes<HTMLAnchorElement> & { href: string }) {
  const handle = (e: MouseEvent<HTMLAnchorElement>) => {
    onClick?.(e);
    if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
    e.preventDefault();
    navigate(href);
  };
  return <a href={href} onClick={handle} {...rest} />;
}
