import type { ComponentChildren } from 'preact';
import type { User } from '../store/types.js';
import { CsrfField, renderDocument } from './components.js';
import type { Branding } from './pages.js';

export interface ConsoleNavItem {
  key: string;
  label: string;
  href: string;
}

/**
 * The admin console's frame: a full-width bar at the top of the window (brand, the sections, who
 * is signed in and sign out) and the page below it, as wide as the window allows. The bar is
 * the same on every page, so moving between sections never moves it.
 */
export function ConsoleLayout(props: { branding: Branding; title: string; nav: readonly ConsoleNavItem[]; current: string; user: User; csrf: string; children?: ComponentChildren }) {
  const { branding } = props;
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <title>{`${props.title} · ${branding.appName}`}</title>
        <link rel="stylesheet" href={`${branding.prefix}/static/style.css`} />
      </head>
      <body class="page-console">
        <a class="skip-link" href="#content">
          Skip to content
        </a>
        <header class="topbar">
          <div class="topbar-inner">
            <a class="brand topbar-brand" href={`${branding.prefix}/admin`}>
              {branding.logoUrl ? (
                <img class="logo" src={branding.logoUrl} alt="" width={32} height={32} />
              ) : (
                <span class="logo-mark" aria-hidden="true">
                  {branding.appName.slice(0, 1).toUpperCase()}
                </span>
              )}
              <span class="app-name">
                {branding.appName}
                <span class="visually-hidden"> admin console</span>
              </span>
            </a>
            <nav class="console-nav" aria-label="Admin sections">
              {props.nav.map((item) => (
                <a href={item.href} aria-current={item.key === props.current ? 'page' : undefined}>
                  {item.label}
                </a>
              ))}
            </nav>
            <div class="topbar-user">
              <span class="muted">
                Signed in as{' '}
                <a href={`${branding.prefix}/account`}>
                  <strong>{props.user.username}</strong>
                </a>
              </span>
              <a href="/">Open the app</a>
              <form method="post" action={`${branding.prefix}/logout`} class="inline-form">
                <CsrfField token={props.csrf} />
                <button type="submit" class="link-button">
                  Sign out
                </button>
              </form>
            </div>
          </div>
        </header>
        <main id="content" class="console-main" aria-labelledby="page-title" tabindex={-1}>
          {props.children}
        </main>
        <footer class="footer console-footer">Protected by Dashgate</footer>
      </body>
    </html>
  );
}

/** A console page as HTML. */
export function renderConsolePage(props: Parameters<typeof ConsoleLayout>[0]): string {
  return renderDocument(<ConsoleLayout {...props} />);
}
