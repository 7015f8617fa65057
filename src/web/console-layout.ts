import type { User } from '../store/types.js';
import { csrfField } from './components.js';
import { html, type SafeHtml } from './html.js';
import type { Branding } from './pages.js';

export interface ConsoleNavItem {
  key: string;
  label: string;
  href: string;
}

/**
 * The admin console's frame: a full-width bar that stays at the top of the window (brand, the
 * sections, who is signed in and sign out) and the page below it, as wide as the window allows.
 * The bar is the same on every page, so moving between sections never moves it.
 */
export function renderConsoleLayout(
  branding: Branding,
  view: { title: string; nav: readonly ConsoleNavItem[]; current: string; user: User; csrf: string; body: SafeHtml },
): string {
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${view.title} · ${branding.appName}</title>
<link rel="stylesheet" href="${branding.prefix}/static/style.css">
</head>
<body class="page-console">
<a class="skip-link" href="#content">Skip to content</a>
<header class="topbar">
<div class="topbar-inner">
<a class="brand topbar-brand" href="${branding.prefix}/admin">
${branding.logoUrl ? html`<img class="logo" src="${branding.logoUrl}" alt="" width="32" height="32">` : html`<span class="logo-mark" aria-hidden="true">${branding.appName.slice(0, 1).toUpperCase()}</span>`}
<span class="app-name">${branding.appName}<span class="visually-hidden"> admin console</span></span>
</a>
<nav class="console-nav" aria-label="Admin sections">
${view.nav.map((item) => html`<a href="${item.href}"${item.key === view.current ? html` aria-current="page"` : html``}>${item.label}</a>`)}
</nav>
<div class="topbar-user">
<span class="muted">Signed in as <a href="${branding.prefix}/account"><strong>${view.user.username}</strong></a></span>
<a href="/">Open the app</a>
<form method="post" action="${branding.prefix}/logout" class="inline-form">${csrfField(view.csrf)}<button type="submit" class="link-button">Sign out</button></form>
</div>
</div>
</header>
<main id="content" class="console-main" aria-labelledby="page-title" tabindex="-1">
${view.body}
</main>
<footer class="footer console-footer">Protected by Dashgate</footer>
</body>
</html>
`.value;
}
