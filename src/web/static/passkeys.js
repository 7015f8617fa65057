/* Dashgate passkeys: the browser half of the WebAuthn ceremonies (the server half is
 * passkey-routes.ts). Pages work without it; it only adds passkey buttons where the browser can. */
(function () {
  'use strict';
  var script = document.currentScript;
  var prefix = script.getAttribute('data-prefix');
  var supported = window.PublicKeyCredential && typeof PublicKeyCredential.parseCreationOptionsFromJSON === 'function';

  function post(path, body) {
    return fetch(prefix + path, {
      method: 'POST',
      credentials: 'same-origin',
      headers: { 'Content-Type': 'application/json', Accept: 'application/json' },
      body: JSON.stringify(body),
    }).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        if (!response.ok || data.ok === false) throw new Error(data.message || 'Something went wrong. Try again.');
        return data;
      });
    });
  }

  function showError(box, err) {
    var el = box.querySelector('[data-passkey-error]');
    el.textContent = err && err.name === 'NotAllowedError' ? 'The passkey request was cancelled or timed out.' : (err && err.message) || 'Something went wrong.';
    el.hidden = false;
  }

  document.querySelectorAll('[data-passkey-login]').forEach(function (box) {
    if (!supported) return;
    box.hidden = false;
    box.querySelector('button').addEventListener('click', function () {
      var csrf = box.getAttribute('data-csrf');
      var endpoint = box.getAttribute('data-endpoint') || '/login/passkey';
      post(endpoint + '/options', { csrf: csrf })
        .then(function (options) {
          return navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(options) });
        })
        .then(function (credential) {
          return post(endpoint, { csrf: csrf, next: box.getAttribute('data-next') || '/', response: credential.toJSON() });
        })
        .then(function (data) { location.href = data.next || '/'; })
        .catch(function (err) { showError(box, err); });
    });
  });

  document.querySelectorAll('form[data-passkey-register]').forEach(function (form) {
    if (!supported) return;
    form.hidden = false;
    form.addEventListener('submit', function (event) {
      event.preventDefault();
      var csrf = form.querySelector('input[name=csrf]').value;
      post('/account/passkeys/options', { csrf: csrf })
        .then(function (options) {
          return navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(options) });
        })
        .then(function (credential) {
          return post('/account/passkeys', { csrf: csrf, name: form.querySelector('input[name=name]').value, response: credential.toJSON() });
        })
        .then(function () { location.href = prefix + '/account?done=passkey_added'; })
        .catch(function (err) { showError(form, err); });
    });
  });
})();
