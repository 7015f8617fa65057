/* Dashgate page helper: injected into the app's HTML pages by the gateway, first in <head> and
 * not deferred, so it is in place before Dash's renderer fetches anything or opens its socket.
 * (a) When a request of the page (a Dash callback, a layout fetch) is answered with the gateway's
 *     401, it opens a "session expired" dialog, signs the user in again in place, then sends the
 *     request again: Dash never sees the failure and the page keeps its state.
 * (b) When a callback is refused because the page it would render is not allowed (in-app
 *     navigation to a page the user may not see), it shows a "no access" panel in place of the
 *     page content, with who is signed in, a way back and a way to switch account.
 * (c) Dash 4's WebSocket callbacks run in a SharedWorker: the helper listens to what the worker
 *     tells the page, so a socket the gateway closed because the session ended opens the sign-in
 *     dialog, and a refused page shows the same panel.
 * (d) Shows a small account badge with the username and a sign-out button.
 * No dependencies; everything it builds uses textContent (never innerHTML). */
(function () {
  'use strict';
  var script = document.currentScript;
  if (!script || window.__dashgateHelper) return;
  window.__dashgateHelper = true;
  var prefix = script.getAttribute('data-prefix') || '/_dashgate';
  var badgePosition = script.getAttribute('data-badge') || 'bottom-right';
  var appName = script.getAttribute('data-app-name') || 'this app';
  // The gateway's words on Dash's WebSocket carry this mark; an app's own error text cannot.
  var mark = script.getAttribute('data-mark') || '';
  var originalFetch = window.fetch.bind(window);
  var pendingSignIn = null;
  var lastUsername = '';

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (key) {
      if (key === 'text') node.textContent = attrs[key];
      else node.setAttribute(key, attrs[key]);
    });
    (children || []).forEach(function (child) { node.appendChild(child); });
    return node;
  }

  function sessionInfo() {
    return originalFetch(prefix + '/api/session', { credentials: 'same-origin', headers: { Accept: 'application/json' }, cache: 'no-store' })
      .then(function (r) { return r.json(); });
  }

  function isLoginRequired(response) {
    return response.status === 401 && response.headers.get('x-dashgate') === 'login-required';
  }

  /* One dialog for all callbacks that failed at once; resolves when the user is signed in again. */
  function signInAgain() {
    if (pendingSignIn) return pendingSignIn;
    pendingSignIn = new Promise(function (resolve) {
      var error = el('p', { class: 'dg-error', role: 'alert', id: 'dg-error' });
      error.hidden = true;
      var user = el('input', { id: 'dg-username', name: 'username', type: 'text', autocomplete: 'username', required: '' });
      var pass = el('input', { id: 'dg-password', name: 'password', type: 'password', autocomplete: 'current-password', required: '' });
      var submit = el('button', { type: 'submit', class: 'dg-primary', text: 'Sign in' });
      var form = el('form', { method: 'post', action: prefix + '/login' }, [
        el('label', { for: 'dg-username', text: 'Username' }), user,
        el('label', { for: 'dg-password', text: 'Password' }), pass,
        error, submit,
      ]);
      // Single sign-on leaves the page for the provider (the page's state cannot come along), so it comes after the form.
      var here = location.pathname + location.search;
      var providers = el('div', { class: 'dg-sso' });
      var dialog = el('dialog', { class: 'dg-dialog', 'aria-labelledby': 'dg-title', 'aria-describedby': 'dg-lead' }, [
        el('h2', { id: 'dg-title', text: 'Session expired' }),
        el('p', { id: 'dg-lead', text: 'Sign in again to continue with ' + appName + '. Your page will stay as it is.' }),
        form,
        providers,
      ]);
      sessionInfo().then(function (info) {
        (info.providers || []).forEach(function (provider) {
          providers.appendChild(el('a', { class: 'dg-sso-link', href: prefix + '/sso/' + encodeURIComponent(provider.id) + '/start?next=' + encodeURIComponent(here), text: 'Sign in with ' + provider.name }));
        });
        if (info.passwords === false) {
          form.hidden = true;
          document.getElementById('dg-lead').textContent = 'Sign in again to continue with ' + appName + '.';
          var first = providers.querySelector('a');
          if (first) first.focus();
        }
      }).catch(function () { /* the password form still works */ });
      dialog.addEventListener('cancel', function (event) { event.preventDefault(); });
      form.addEventListener('submit', function (event) {
        event.preventDefault();
        submit.disabled = true;
        error.hidden = true;
        sessionInfo().then(function (info) {
          var body = new URLSearchParams({ username: user.value, password: pass.value, csrf: info.csrf, next: location.pathname });
          return originalFetch(prefix + '/login', {
            method: 'POST', credentials: 'same-origin', body: body,
            headers: { Accept: 'application/json', 'Content-Type': 'application/x-www-form-urlencoded' },
          });
        }).then(function (response) {
          return response.json().then(function (data) {
            if (response.ok && data.ok) {
              pass.value = '';
              dialog.close();
              dialog.remove();
              pendingSignIn = null;
              refreshBadge();
              resolve();
            } else if (data.error === 'mfa_required' && data.login_url) {
              // The second factor is asked on the sign-in page; this page's state cannot be kept.
              location.href = data.login_url;
            } else {
              error.textContent = data.message || 'Sign-in failed.';
              error.hidden = false;
              pass.value = '';
              pass.focus();
            }
          });
        }).catch(function () {
          error.textContent = 'The sign-in service did not answer. Try again.';
          error.hidden = false;
        }).finally(function () { submit.disabled = false; });
      });
      document.body.appendChild(dialog);
      dialog.showModal();
      // Usually the same person is signing in again: offer the name the badge showed.
      user.value = lastUsername;
      (lastUsername ? pass : user).focus();
    });
    return pendingSignIn;
  }

  /* (b) "No access" in place of the refused page: the element the callback would have filled is
   * hidden (not emptied: it belongs to Dash's React tree) and the panel sits before it until the
   * location changes. */
  var shown = null;
  function clearPanels() {
    if (!shown) return;
    shown.panel.remove();
    shown.targets.forEach(function (target) { target.hidden = false; });
    shown = null;
  }
  function showNoAccess(refusal) {
    var target = refusal.target ? document.getElementById(refusal.target) : null;
    // Several callbacks of one navigation can be refused for the same page: one panel, each output hidden.
    if (shown && shown.path === refusal.path) {
      if (target && shown.targets.indexOf(target) === -1) { shown.targets.push(target); target.hidden = true; }
      return;
    }
    clearPanels();
    var who = el('p', { class: 'dg-who' });
    var back = el('button', { type: 'button', class: 'dg-primary', text: 'Go back' });
    back.addEventListener('click', function () {
      if (history.length > 1) history.back();
      else location.href = '/';
    });
    var switchAccount = el('button', { type: 'button', class: 'dg-secondary', text: 'Switch account' });
    switchAccount.addEventListener('click', function () {
      var next = refusal.path || location.pathname;
      sessionInfo().then(function (info) {
        if (!info.authenticated) return;
        return originalFetch(prefix + '/logout', { method: 'POST', credentials: 'same-origin', redirect: 'manual', body: new URLSearchParams({ csrf: info.csrf }), headers: { 'Content-Type': 'application/x-www-form-urlencoded' } });
      }).finally(function () { location.href = prefix + '/login?next=' + encodeURIComponent(next); });
    });
    var panel = el('section', { class: 'dg-no-access', role: 'alert', 'aria-labelledby': 'dg-no-access-title', 'data-dashgate': 'no-access' }, [
      el('h2', { id: 'dg-no-access-title', text: 'No access' }),
      el('p', { text: 'Your account does not have access to ' + (refusal.path || 'this page') + ' in ' + appName + '.' }),
      who,
      el('div', { class: 'dg-actions' }, [back, switchAccount]),
    ]);
    sessionInfo().then(function (info) { if (info.authenticated) who.textContent = 'Signed in as ' + (info.name || info.username) + '.'; }).catch(function () {});
    if (target && target.parentNode) {
      target.parentNode.insertBefore(panel, target);
      target.hidden = true;
    } else {
      document.body.appendChild(panel);
    }
    shown = { path: refusal.path, panel: panel, targets: target ? [target] : [] };
    back.focus();
  }
  /* Dash's dcc.Link navigates with history.pushState; Back and Forward with popstate. */
  ['pushState', 'replaceState'].forEach(function (name) {
    var original = history[name];
    history[name] = function () { clearPanels(); return original.apply(this, arguments); };
  });
  window.addEventListener('popstate', clearPanels);

  function showRefusal(refusal) {
    if (refusal && refusal.reason === 'page') showNoAccess(refusal);
    else notice('You do not have access to this part of ' + appName + '.');
  }

  /* (c) What Dash's WebSocket worker tells this page: {type: 'disconnected', payload: {reason}}
   * when the socket closed, {type: 'callback_response', payload: {status, message}} per callback. */
  function onWorkerMessage(event) {
    var data = event.data || {};
    var payload = data.payload || {};
    if (!mark) return;
    if (data.type === 'disconnected' && String(payload.reason || '') === mark + ':session_ended') {
      signInAgain();
    } else if (data.type === 'callback_response' && payload.status === 'error' && typeof payload.message === 'string') {
      var at = payload.message.indexOf(mark + ':{');
      if (at === -1) return;
      try { showRefusal(JSON.parse(payload.message.slice(at + mark.length + 1))); } catch (e) { /* not ours */ }
    }
  }
  if (typeof window.SharedWorker === 'function') {
    var OriginalSharedWorker = window.SharedWorker;
    var WatchedSharedWorker = function (url, options) {
      var worker = new OriginalSharedWorker(url, options);
      try { worker.port.addEventListener('message', onWorkerMessage); } catch (e) { /* the app still works without it */ }
      return worker;
    };
    WatchedSharedWorker.prototype = OriginalSharedWorker.prototype;
    window.SharedWorker = WatchedSharedWorker;
  }

  function notice(text) {
    var box = el('div', { class: 'dg-notice', role: 'status', text: text });
    document.body.appendChild(box);
    setTimeout(function () { box.remove(); }, 6000);
  }

  window.fetch = function (input, init) {
    var retry = input instanceof Request ? input.clone() : input;
    return originalFetch(input, init).then(function (response) {
      if (isLoginRequired(response)) return signInAgain().then(function () { return window.fetch(retry, init); });
      if (response.status === 403 && response.headers.get('x-dashgate') === 'forbidden') {
        response.clone().json().then(showRefusal, function () { showRefusal(null); });
      }
      return response;
    });
  };

  /* dashgate.create_logout_button() in the app renders <form data-dashgate-logout method=get>:
   * without this script it leads to the confirm page; with it, one click signs out. */
  document.addEventListener('submit', function (event) {
    var form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.hasAttribute('data-dashgate-logout')) return;
    event.preventDefault();
    sessionInfo().then(function (info) {
      if (!info.authenticated) { location.href = prefix + '/login'; return; }
      var post = el('form', { method: 'post', action: prefix + '/logout' }, [el('input', { type: 'hidden', name: 'csrf', value: info.csrf })]);
      document.body.appendChild(post);
      post.submit();
    }).catch(function () { form.submit(); });
  }, true);

  var badge = null;
  function refreshBadge() {
    if (badgePosition === 'off') return;
    sessionInfo().then(function (info) {
      if (!info.authenticated) return;
      lastUsername = info.username;
      if (badge) badge.remove();
      var form = el('form', { method: 'post', action: prefix + '/logout' }, [
        el('input', { type: 'hidden', name: 'csrf', value: info.csrf }),
        el('button', { type: 'submit', class: 'dg-logout', text: 'Sign out' }),
      ]);
      badge = el('div', { class: 'dg-badge dg-' + badgePosition, role: 'region', 'aria-label': 'Account' }, [
        el('a', { class: 'dg-user', href: prefix + '/account', title: 'Your account (' + info.username + ')', text: info.name || info.username }),
        form,
      ]);
      document.body.appendChild(badge);
    }).catch(function () {});
  }

  var style = el('style', {
    text:
      '.dg-badge{position:fixed;z-index:2147483000;display:flex;align-items:center;gap:.5rem;padding:.35rem .45rem .35rem .75rem;' +
      'background:#1b2330;color:#fff;border-radius:999px;font:14px system-ui,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.25)}' +
      '.dg-bottom-right{right:16px;bottom:16px}.dg-bottom-left{left:16px;bottom:16px}.dg-top-right{right:16px;top:16px}.dg-top-left{left:16px;top:16px}' +
      '.dg-badge form{margin:0}.dg-user{max-width:12rem;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;color:#fff;text-decoration:none}.dg-user:hover{text-decoration:underline}' +
      '.dg-logout{font:inherit;font-weight:600;border:0;border-radius:999px;padding:.3rem .75rem;background:#fff;color:#1b2330;cursor:pointer}' +
      '.dg-dialog{border:1px solid #cfd6e0;border-radius:12px;padding:1.5rem;max-width:22rem;width:90%;font:16px system-ui,sans-serif;color:#1b2330;background:#fff}' +
      '.dg-dialog::backdrop{background:rgba(16,20,27,.55)}.dg-dialog h2{margin:0 0 .5rem;font-size:1.25rem}' +
      '.dg-dialog form{display:flex;flex-direction:column;gap:.35rem}.dg-dialog label{font-weight:600;margin-top:.5rem}' +
      '.dg-dialog input{font:inherit;padding:.5rem .65rem;border:1px solid #cfd6e0;border-radius:8px}' +
      '.dg-primary{margin-top:1rem;font:inherit;font-weight:600;padding:.6rem;border:0;border-radius:8px;background:#1f5fbf;color:#fff;cursor:pointer}' +
      '.dg-sso{display:flex;flex-direction:column;gap:.5rem;margin-top:.75rem}.dg-sso-link{display:block;text-align:center;padding:.55rem;border:1px solid #cfd6e0;border-radius:8px;color:#1f5fbf;font-weight:600;text-decoration:none}' +
      '.dg-error{color:#8a1c1c;background:#fdecec;padding:.5rem;border-radius:8px;margin:.5rem 0 0}' +
      '.dg-no-access{margin:1.5rem auto;max-width:36rem;padding:1.25rem 1.5rem;border:1px solid #cfd6e0;border-radius:12px;background:#fff;color:#1b2330;font:16px system-ui,sans-serif;box-shadow:0 4px 14px rgba(0,0,0,.08)}' +
      '.dg-no-access h2{margin:0 0 .5rem;font-size:1.25rem}.dg-no-access p{margin:.25rem 0}.dg-who{color:#4a5565}' +
      '.dg-actions{display:flex;flex-wrap:wrap;gap:.5rem;margin-top:1rem}.dg-actions .dg-primary{margin-top:0;padding:.5rem 1rem}' +
      '.dg-secondary{font:inherit;font-weight:600;padding:.5rem 1rem;border:1px solid #cfd6e0;border-radius:8px;background:#fff;color:#1f5fbf;cursor:pointer}' +
      '@media (prefers-color-scheme:dark){.dg-no-access{background:#1b2330;color:#e8edf4;border-color:#3a4556}.dg-who{color:#b8c2d0}.dg-secondary{background:#1b2330;color:#8fb8ff;border-color:#3a4556}}' +
      '.dg-notice{position:fixed;left:50%;top:16px;transform:translateX(-50%);z-index:2147483001;background:#8a1c1c;color:#fff;padding:.5rem 1rem;border-radius:8px;font:14px system-ui,sans-serif}' +
      '.dg-no-access :focus-visible,.dg-badge :focus-visible,.dg-dialog :focus-visible{outline:3px solid #f0a500;outline-offset:2px}',
  });
  function start() {
    document.head.appendChild(style);
    refreshBadge();
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start);
  else start();
})();
