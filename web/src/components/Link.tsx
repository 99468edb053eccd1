import type { ComponentChildren, JSX } from 'preact';
import { navigate } from '../router';

type Props = JSX.HTMLAttributes<HTMLAnchorElement> & { href: string; children?: ComponentChildren };

/** A real <a> that navigates inside the app without a reload (ctrl/middle click still open a tab). */
export function Link({ href, children, onClick, ...rest }: Props) {
  return (
    <a
      href={href}
      {...rest}
      onClick={(e) => {
        if (onClick) (onClick as (e: MouseEvent) => void)(e);
        if (e.defaultPrevented || e.button !== 0 || e.metaKey || e.ctrlKey || e.shiftKey || e.altKey) return;
        if (href.startsWith('/api/') || /^[a-z]+:/i.test(href)) return;
        e.preventDefault();
        navigate(href);
      }}
    >
      {children}
    </a>
  );
}
