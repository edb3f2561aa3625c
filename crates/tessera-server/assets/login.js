// The login page of Tessera: session login with Django's CSRF protocol.
// Served as /login.js; the page's Content-Security-Policy allows no inline script.
'use strict';

(() => {
  const $ = (id) => document.getElementById(id);
  const CSRF_COOKIE = 'csrftoken';

  /** A cookie's value as scripts see it, or null. */
  function readCookie(name) {
    for (const part of document.cookie.split(';')) {
      const eq = part.indexOf('=');
      if (eq >= 0 && part.slice(0, eq).trim() === name) {
        try {
          return decodeURIComponent(part.slice(eq + 1).trim());
        } catch (_) {
          return null;
        }
      }
    }
    return null;
  }

  /** A masked CSRF token from the server; also sets the `csrftoken` cookie. */
  async function fetchCsrfToken() {
    const reply = await call('/auth/csrf');
    if (!reply.ok || !reply.data || typeof reply.data.csrfToken !== 'string') {
      throw new Error(errorText(reply));
    }
    return reply.data.csrfToken;
  }

  /** The token for an unsafe request: the cookie's secret itself (Django
   * accepts it), or a fresh token when scripts cannot see the cookie. */
  async function csrfToken() {
    return readCookie(CSRF_COOKIE) || fetchCsrfToken();
  }

  /** A same-origin request; the reply with its body parsed when it is JSON. */
  async function call(path, options = {}) {
    const method = options.method || 'GET';
    const headers = { Accept: 'application/json' };
    const init = { method, headers, credentials: 'same-origin', cache: 'no-store' };
    if (method !== 'GET' && method !== 'HEAD') {
      headers['X-CSRFToken'] = options.csrfToken || (await csrfToken());
    }
    if (options.body !== undefined) {
      headers['Content-Type'] = 'application/json';
      init.body = JSON.stringify(options.body);
    }
    const response = await fetch(path, init);
    const text = await response.text();
    let data = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch (_) {
        data = null;
      }
    }
    return { ok: response.ok, status: response.status, data, text };
  }

  /** The API's message for a failed reply: `non_field_errors`, `detail`, or
   * the field errors. */
  function errorText(reply) {
    const data = reply.data;
    if (data && typeof data === 'object' && !Array.isArray(data)) {
      if (Array.isArray(data.non_field_errors)) {
        return data.non_field_errors.join(' ');
      }
      if (typeof data.detail === 'string') {
        return data.detail;
      }
      const fields = Object.entries(data).map(([field, messages]) =>
        `${field}: ${Array.isArray(messages) ? messages.join(' ') : String(messages)}`);
      if (fields.length > 0) {
        return fields.join(' ');
      }
    }
    return `Request failed (HTTP ${reply.status}).`;
  }

  function showError(message) {
    const error = $('error');
    error.textContent = message;
    error.hidden = !message;
  }

  function showForm() {
    $('loading').hidden = true;
    $('account').hidden = true;
    $('current-user').textContent = '';
    $('current-auth').textContent = '';
    $('response').textContent = '';
    $('login-form').hidden = false;
    $('username').focus();
  }

  function showAccount(user, auth) {
    $('loading').hidden = true;
    $('login-form').hidden = true;
    $('current-user').textContent = user.username;
    $('current-auth').textContent = auth;
    $('account').hidden = false;
  }

  /** Asks the server who is signed in, and shows that. */
  async function refresh() {
    const reply = await call('/auth/me');
    if (reply.ok && reply.data && reply.data.user) {
      showAccount(reply.data.user, reply.data.auth);
    } else {
      showForm();
    }
  }

  /** The `next` of the page's address when it is a path on this server:
   * one leading `/` (not `//` or `/\`, which browsers read as another
   * host), no backslash or control character, and the same origin once
   * resolved; else null. The server builds `next` with the same rule. */
  function safeNext() {
    const next = new URLSearchParams(window.location.search).get('next');
    if (!next || next[0] !== '/' || next[1] === '/' || next[1] === '\\') {
      return null;
    }
    if (/[\\\u0000-\u001f\u007f]/.test(next)) {
      return null;
    }
    try {
      const url = new URL(next, window.location.origin);
      return url.origin === window.location.origin ? url.pathname + url.search + url.hash : null;
    } catch (_) {
      return null;
    }
  }

  /** Runs an action with its button disabled; a thrown error is shown. */
  async function busy(button, action) {
    button.disabled = true;
    showError('');
    try {
      await action();
    } catch (e) {
      showError(`Network error: ${e && e.message ? e.message : e}`);
    } finally {
      button.disabled = false;
    }
  }

  async function login(event) {
    event.preventDefault();
    await busy($('login-button'), async () => {
      // Login is CSRF-checked too: get a token (and the cookie) first.
      const token = await fetchCsrfToken();
      const reply = await call('/auth/login', {
        method: 'POST',
        csrfToken: token,
        body: { username: $('username').value, password: $('password').value },
      });
      if (!reply.ok) {
        showError(errorText(reply));
        return;
      }
      $('password').value = '';
      // Back to the page that sent the user here, if it is one of ours.
      const next = safeNext();
      if (next) {
        window.location.assign(next);
        return;
      }
      // The CSRF secret was rotated at login: later requests read the new cookie.
      await refresh();
    });
  }

  async function postExample() {
    await busy($('post-example'), async () => {
      const reply = await call('/api/example/', { method: 'POST', body: { hello: 'world' } });
      if (!reply.ok) {
        $('response').textContent = '';
        showError(errorText(reply));
        return;
      }
      $('response').textContent = JSON.stringify(reply.data, null, 2);
    });
  }

  async function logout() {
    await busy($('logout-button'), async () => {
      const reply = await call('/auth/logout', { method: 'POST' });
      if (!reply.ok) {
        showError(errorText(reply));
      }
      await refresh();
    });
  }

  function start() {
    $('login-form').addEventListener('submit', login);
    $('post-example').addEventListener('click', postExample);
    $('logout-button').addEventListener('click', logout);
    refresh().catch((e) => {
      showForm();
      showError(`Network error: ${e && e.message ? e.message : e}`);
    });
  }

  start();
})();
