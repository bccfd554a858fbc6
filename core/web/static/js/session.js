// The login's life: the login form and the website's SSO links, the
// login with the session cookie or a login link, signing in again after a
// lost connection (with the reconnect token, never the password), and
// logging out.

import { httpURL } from "./dom.js";
import { DISCONNECTED, NOT_CONNECTED } from "./protocol.js";

/**
 * GUEST_NAME_WAITS bounds how often a guest coming back tries its name
 * again while the server still holds it (the old connection, or a crashed
 * server's members that the chat has not let go yet); then the guest
 * chooses a name in the form. A reconnect token proves the name is the
 * user's own, so a token login waits as long as it takes.
 */
export const GUEST_NAME_WAITS = 6;

/** createSession wires the login view and the reconnect logic into app. */
export function createSession(app) {
  const { el, state, conn, proto } = app;
  let loginServer = "";  // the server of the last login (conn.url)
  let nameWaits = 0;     // tries of a guest's name since it was found taken

  function setStatus(text, st) {
    el.status.textContent = text;
    el.status.title = text; // narrow screens show only the dot
    el.status.setAttribute("data-state", st);
  }

  function showLoginError(text) {
    el.loginError.textContent = text;
    el.loginError.hidden = false;
  }

  function showLogin() {
    el.chatView.hidden = true;
    el.me.hidden = true;
    el.toggles.hidden = true;
    el.toolbar.hidden = true;
    el.loginView.hidden = false;
    el.connLost.hidden = true;
    conn.stopRetry();
    el.loginUser.focus();
  }

  // ---- the socket ---------------------------------------------------------

  conn.onConnecting = () => { setStatus("Connecting\u2026", "connecting"); };
  conn.onOpen = () => {
    el.connLost.hidden = true;
    setStatus("Connected", "open");
  };
  conn.onMessage = (data) => { proto.receive(data); };
  conn.onClose = closed;

  function closed(ev, wasConnected) {
    proto.failAll();
    if (ev && ev.reason === "logged out" && state.me) {
      onLoggedOut(ev);
      setStatus("Not connected", "closed");
      return;
    }
    const online = state.wantOnline;
    state.me = null;
    if (online) {
      // reconnect() queues a fresh login for the next socket.
      conn.dropQueued();
    }
    if (state.room) {
      state.rejoin = { id: state.room.id, password: state.roomPassword };
    }
    const why = ev && ev.reason ? " (" + ev.reason + ")" : "";
    if (online) {
      // With several servers the next attempt goes to the next one.
      const next = conn.several ? " Reconnecting to the next server\u2026" : "";
      connectionLost((wasConnected ? "Connection lost" : "Could not reach the server") + why + "." + next);
    } else {
      setStatus("Not connected", "closed");
      el.loginSubmit.disabled = false;
      if (conn.hasQueued) {
        // A login was waiting for the socket that never opened.
        conn.dropQueued();
        showLoginError("Could not reach the server" + why + ". Please try again.");
      }
    }
    app.emitLocal("disconnected", {});
  }

  function connectionLost(text) {
    el.connLostText.textContent = text;
    el.reconnect.hidden = false;
    el.connLost.hidden = false;
    el.chatView.classList.add("offline");
    app.compose.update();
    conn.later(reconnect, (s) => { setStatus("Disconnected \u2014 retrying in " + s + " s", "closed"); });
  }

  // reconnect opens a new socket and signs in again the way state.login
  // says (never with a password), then returns to the room the user was in.
  function reconnect() {
    conn.stopRetry();
    if (conn.ws) {
      // A socket is open or opening already; its login is queued.
      return;
    }
    const l = state.login;
    if (!l) {
      conn.connect();
      return;
    }
    if (l.session) {
      conn.whenOpen(() => { sendSessionLogin(true); });
    } else if (l.token) {
      conn.whenOpen(() => { sendTokenLogin(l.token); });
    } else if (l.guest) {
      conn.whenOpen(() => { sendLogin(l.user, "", true); });
    } else {
      signInAgain(l.user, "The connection was lost. Please sign in again.");
      conn.connect();
    }
  }

  // signInAgain ends the login on this page and shows the login form with
  // the name filled in and why.
  function signInAgain(user, why) {
    endLogin();
    el.loginSubmit.disabled = false;
    showLogin();
    el.loginUser.value = user || "";
    if (user) { el.loginPassword.focus(); }
    showLoginError(why);
  }

  // ---- logging in ---------------------------------------------------------

  // login sends a login request; ctx says which kind for its answer.
  function login(msg, ctx) {
    proto.request(msg, { ctx: ctx }).catch((err) => { loginFailed(err, ctx); });
  }

  // sendLogin logs in with a name and password (none: a guest). The
  // password is sent once and not kept: a reconnect uses the token that
  // login_ok brings.
  function sendLogin(user, password, isReconnect) {
    const msg = { type: "login", user: user };
    if (password) { msg.password = password; }
    login(msg, { reconnect: !!isReconnect, user: user });
  }

  // sendTokenLogin logs in again with the reconnect token of a password
  // login.
  function sendTokenLogin(token) {
    const user = state.login ? state.login.user : "";
    login({ type: "login", token: token }, { token: true, reconnect: true, user: user });
  }

  // sendSessionLogin logs in with the chat's login cookie (set by the
  // website's SSO login), if the browser has one.
  function sendSessionLogin(isReconnect) {
    login({ type: "login", session: true }, { session: true, reconnect: !!isReconnect });
  }

  // retryLogin sends the reconnect's login (the token, or a guest's name)
  // again later, on the same socket, with the reconnect backoff.
  function retryLogin() {
    setStatus("Waiting for the old connection to end\u2026", "connecting");
    el.connLostText.textContent = "Signing in again as soon as the server has closed the old connection\u2026";
    el.reconnect.hidden = true;
    el.connLost.hidden = false;
    conn.later(() => {
      const l = state.login;
      if (!conn.open || state.me || !l) { return; }
      if (l.token) {
        sendTokenLogin(l.token);
      } else if (l.guest) {
        sendLogin(l.user, "", true);
      }
    });
  }

  function loginFailed(err, ctx) {
    if (err.code === DISCONNECTED) { return; } // closed() says what happened
    if (err.code === NOT_CONNECTED) {
      el.loginSubmit.disabled = false;
      showLoginError("Not connected to the server. Please try again.");
      return;
    }
    let text = err.message;
    if (ctx.session && !ctx.reconnect) {
      // No (valid) login session: the visitor signs in with the form.
      if (state.linkError) {
        showLoginError(state.linkError);
      } else if (err.code !== "no_session") {
        showLoginError(text);
      }
      return;
    }
    el.loginSubmit.disabled = false;
    if (ctx.reconnect) {
      const user = ctx.user || (state.login && state.login.user) || "";
      const l = state.login;
      if (err.code === "name_taken" && l && ((ctx.token && l.token) || (!ctx.token && l.guest && nameWaits < GUEST_NAME_WAITS))) {
        // The server has not seen the old connection go yet (it notices
        // within its ping interval; a crashed server's members leave when
        // the chat notices the crash): the token stays good, and the
        // guest's name is probably still its own. Try again.
        if (!ctx.token) { nameWaits++; }
        retryLogin();
        return;
      }
      if (ctx.token && err.code === "no_session") {
        // The server no longer knows the reconnect token: it expired
        // while the connection was down, it was ended, or the page moved
        // to a server that does not share the first one's store.
        text = loginServer && loginServer !== conn.url ?
          "You were signed out: the server the chat reconnected to does not know your login (or it expired while the connection was down). Please sign in again." :
          "You were signed out while the connection was down (your login expired or was ended). Please sign in again.";
      }
      // Otherwise the old session may not be gone yet; let the user decide.
      signInAgain(user, text);
      return;
    }
    showLoginError(text);
  }

  proto.on("hello", (ev) => {
    state.hello = ev;
    if (ev.guests === false) {
      el.loginHint.textContent = "This server does not admit guests: sign in with your name and password.";
      el.loginPasswordOptional.hidden = true;
      el.loginPassword.required = true;
    } else {
      el.loginHint.textContent = "Choose a name. Leave the password empty to enter as a guest.";
      el.loginPasswordOptional.hidden = false;
      el.loginPassword.required = false;
    }
    // The SSO plugin serves /sso/ only where the server lists it.
    const modules = Array.isArray(ev.modules) ? ev.modules : [];
    if (modules.indexOf("sso") >= 0 && !state.ssoAsked) {
      state.ssoAsked = true;
      loadSSO();
    }
    // A browser the website logged in (SSO) carries the login cookie:
    // try it once before asking for a name.
    if (!state.me && !state.login && !state.sessionTried) {
      state.sessionTried = true;
      sendSessionLogin(false);
    }
  });

  proto.on("login_ok", (ev, ctx) => {
    state.linkError = "";
    state.me = ev.user || {};
    if (typeof ev.token === "string" && ev.token) {
      state.login = { user: state.me.name, token: ev.token };
    } else if (ctx && ctx.session) {
      state.login = { session: true };
    } else if (ctx && ctx.token) {
      // Logged in again with the reconnect token: it stays the same.
    } else if (state.me.guest) {
      state.login = { user: state.me.name, guest: true };
    } else {
      state.login = { user: state.me.name };
    }
    state.wantOnline = true;
    const moved = !!loginServer && loginServer !== conn.url;
    loginServer = conn.url;
    nameWaits = 0;
    conn.stopRetry();
    el.loginSubmit.disabled = false;
    el.loginError.hidden = true;
    el.loginPassword.value = "";
    el.connLost.hidden = true;
    el.chatView.classList.remove("offline");
    const name = state.me.name || "";
    el.meName.textContent = state.me.display && state.me.display !== name ? state.me.display + " (" + name + ")" : name;
    // The account's picture (login_ok.user.avatar), where the server sends one.
    const old = el.me.querySelector(".me-avatar");
    if (old) { old.remove(); }
    const pic = app.users.avatar({ name: name, avatar: typeof state.me.avatar === "string" ? state.me.avatar : "" }, 22, false);
    if (pic) {
      pic.classList.add("me-avatar");
      el.me.insertBefore(pic, el.meName);
    }
    el.meGuest.hidden = !state.me.guest;
    el.meAdmin.hidden = !state.me.admin;
    el.me.hidden = false;
    el.toggles.hidden = false;
    el.toolbar.hidden = el.toolbar.childElementCount === 0;
    el.loginView.hidden = true;
    el.chatView.hidden = false;
    setStatus("Signed in as " + name, "online");
    const again = state.rejoin;
    state.rejoin = null;
    const note = moved ? "Reconnected to another server." : "Reconnected.";
    if (again) {
      // The room's history replaces the lines shown so far: the note
      // comes with it.
      app.rooms.join(again.id, again.password, true, note);
    } else {
      if (ctx && ctx.reconnect) { app.messages.addLine("info", note); }
      el.text.focus();
    }
    app.users.render();
    app.compose.update();
  });

  proto.on("logged_out", (ev) => { onLoggedOut(ev); });

  proto.on("error", (ev) => {
    // Errors that answer no request of ours.
    if (ev.code === "not_logged_in" && !state.me) {
      showLogin();
      showLoginError(ev.message || ev.code);
      return;
    }
    app.messages.addLine("error", ev.message || ev.code || "Something went wrong.");
  });

  // ---- SSO and logout -----------------------------------------------------

  // loadSSO reads the SSO plugin's settings and shows the website's login
  // and registration links. Without the plugin the request fails quietly.
  function loadSSO() {
    fetch("/sso/settings", { credentials: "same-origin", cache: "no-store" }).then((r) => {
      if (!r.ok) { return null; }
      return r.json();
    }).then((j) => {
      if (!j || typeof j !== "object") { return; }
      state.sso = { login: httpURL(j.login_url), logout: httpURL(j.logout_url), register: httpURL(j.register_url) };
      if (state.sso.login) {
        el.ssoLogin.href = state.sso.login;
        el.ssoLogin.hidden = false;
      }
      if (state.sso.register) {
        el.ssoRegister.href = state.sso.register;
        el.ssoRegister.hidden = false;
      }
      el.ssoLinks.hidden = !(state.sso.login || state.sso.register);
    }).catch(() => {});
  }

  // useLoginLink exchanges the access token of a login link
  // (CHAT/?access_token=...&rememberMe=...) for the login cookie, removes
  // it from the address bar, then calls done.
  function useLoginLink(done) {
    let q;
    try { q = new URLSearchParams(location.search); } catch (e) { done(); return; }
    const token = q.get("access_token");
    if (!token) { done(); return; }
    const remember = q.get("rememberMe") === "1" ? "1" : "0";
    q.delete("access_token");
    q.delete("rememberMe");
    const rest = q.toString();
    history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    fetch("/sso/token/login?access_token=" + encodeURIComponent(token) + "&rememberMe=" + remember,
      { credentials: "same-origin", cache: "no-store" }).then((r) => {
      if ((r.headers.get("Content-Type") || "").indexOf("image/gif") === 0) { return ""; }
      return r.json().then((j) => (j && j.message) || "The login link did not work.");
    }).catch(() => "The login link did not work.").then((err) => {
      state.linkError = err || "";
      done();
    });
  }

  function logout() {
    if (!state.me) { return; }
    state.loggingOut = true;
    proto.request({ type: "logout" }).catch((err) => {
      if (err.code === NOT_CONNECTED) { onLoggedOut({}); }
    });
  }

  // onLoggedOut ends the login: after the user's own logout the browser
  // goes to the website's logout page when one is configured.
  function onLoggedOut() {
    const own = state.loggingOut;
    state.loggingOut = false;
    endLogin();
    if (own && state.sso && state.sso.logout) {
      location.href = state.sso.logout;
      return;
    }
    showLogin();
    showLoginError(own ? "You have logged out." : "Your login session has ended; please log in again.");
  }

  // endLogin forgets the login, its room and its messages.
  function endLogin() {
    conn.stopRetry();
    state.wantOnline = false;
    state.login = null;
    state.rejoin = null;
    state.me = null;
    state.room = null;
    state.roomPassword = "";
    app.users.clear();
    state.pm = "";
    app.messages.clear();
    app.rooms.renderHead();
    app.users.render();
  }

  // ---- wiring -------------------------------------------------------------

  el.loginForm.addEventListener("submit", (e) => {
    e.preventDefault();
    const user = el.loginUser.value.trim();
    const password = el.loginPassword.value;
    if (!user) {
      showLoginError("Please enter a user name.");
      el.loginUser.focus();
      return;
    }
    if (state.me) { return; }
    el.loginError.hidden = true;
    el.loginSubmit.disabled = true;
    state.rejoin = null;
    conn.whenOpen(() => { sendLogin(user, password, false); });
  });

  el.reconnect.addEventListener("click", () => {
    conn.resetBackoff();
    reconnect();
  });

  window.addEventListener("online", () => {
    if (state.wantOnline && !conn.open) { reconnect(); }
  });

  el.logout.addEventListener("click", logout);

  return {
    /** start opens the connection (after a login link, if any). */
    start() { useLoginLink(() => { conn.connect(); }); },
    setStatus: setStatus
  };
}
