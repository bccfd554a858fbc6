// The audio/video module's web client extension: a "Call" button in rooms
// with audio joins the room's call. Every participant connects to every
// other one (a mesh of RTCPeerConnections) with the perfect-negotiation
// pattern: of two participants, the one whose name sorts first is the
// polite one, who gives way when both offer at once. The call shows a
// tile per participant (camera, or the name where there is no video),
// buttons to mute the microphone, turn the camera off and leave, and an
// "call" badge in the user list. In a call of mode sfu there is one
// connection, with the module, which makes every offer; the client only
// answers. docs/av.md describes the protocol.

function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) { e.className = cls; }
  if (text !== undefined) { e.textContent = text; }
  return e;
}

function key(name) { return String(name || "").toLowerCase(); }

// warnings are the latest problems of the call (also on the dock
// element, as avWarnings, for tests and for a look in the console).
const warnings = [];
function warn(text) {
  console.warn("av: " + text);
  warnings.push(text);
  if (warnings.length > 20) { warnings.shift(); }
}

function button(label, name) {
  const b = el("button", "btn btn-ghost btn-small av-btn", label);
  b.type = "button";
  b.setAttribute("data-av", name);
  return b;
}

export default function (api) {
  const css = document.createElement("link");
  css.rel = "stylesheet";
  css.href = "/plugins/" + api.module + "/style.css";
  document.head.appendChild(css);

  // What the room's call is, for everyone in the room (the badges and
  // the button's count), whether or not this user is in it.
  let roomID = 0;
  let roomCall = { call: "", participants: [] };
  // This user's part in a call: null when not in one.
  let call = null; // {id, room, mode, publish, video, ice, local, peers: Map, sfu}
  // Signals that come while av.join is on its way (an offer may overtake
  // the answer to the join): handled once the call is known.
  let joining = null;

  // The dock: the tiles and the controls.
  const dock = el("div", "av-dock");
  dock.hidden = true;
  dock.setAttribute("role", "region");
  dock.setAttribute("aria-label", "Call");
  const tiles = el("div", "av-tiles");
  const bar = el("div", "av-bar");
  const status = el("span", "av-status");
  status.setAttribute("role", "status");
  const bMic = button("Mute", "mic"), bCam = button("Camera off", "camera"), bLeave = button("Leave", "leave");
  bLeave.classList.add("av-leave");
  bar.append(status, bMic, bCam, bLeave);
  dock.append(tiles, bar);
  document.body.appendChild(dock);
  dock.avWarnings = warnings;
  // counts of signals, for tests: sent, answered by the module, received,
  // dropped (not of the current call), waiting for the join's answer.
  const counts = { sent: 0, relayed: 0, received: 0, dropped: 0, early: 0 };
  dock.avCounts = counts;

  const callButton = api.addToolbarButton({ id: "call", label: "Call", onClick: () => { if (call) { leave("You left the call."); } else { join(); } } });
  callButton.el.hidden = true;

  const badges = api.addUserBadge((m) => roomCall.participants.some((p) => key(p.name) === key(m.name)) ? "call" : null);

  function me() { const u = api.user(); return u ? u.name : ""; }

  function say(text) { status.textContent = text; }

  function draw() {
    const r = api.room();
    const audio = !!(r && r.audio);
    callButton.el.hidden = !audio && !call;
    const n = roomCall.participants.length;
    callButton.el.textContent = call ? "Leave call" : n ? "Join call (" + n + ")" : "Call";
    callButton.el.setAttribute("aria-pressed", String(!!call));
    dock.hidden = !call;
    dock.dataset.call = call ? call.id : "";
    badges.refresh();
  }

  // news counts the changes of roomCall, so that an av.state answer that
  // arrives after newer events is not taken.
  let news = 0;
  // version is that of the module's latest news taken: answers and
  // events may cross, the higher version is the later state. A restarted
  // module counts from 0 again (av.ended with no version resets it).
  let version = 0;

  function setRoomCall(id, participants, v) {
    if (typeof v === "number") {
      if (v < version) { return; }
      version = v;
    } else {
      version = 0;
    }
    news++;
    roomCall = { call: id || "", participants: Array.isArray(participants) ? participants : [] };
    draw();
  }

  // The tiles.
  function tile(name, label) {
    let t = tiles.querySelector('.av-tile[data-user="' + CSS.escape(name) + '"]');
    if (t) { return t; }
    t = el("div", "av-tile");
    t.setAttribute("data-user", name);
    const v = el("video", "av-video");
    v.autoplay = true;
    v.playsInline = true;
    const initial = el("span", "av-initial", name.charAt(0).toUpperCase());
    const caption = el("span", "av-name", label || name);
    t.append(v, initial, caption);
    tiles.appendChild(t);
    return t;
  }

  function showStream(t, stream, local) {
    const v = t.querySelector("video");
    v.muted = !!local;
    if (v.srcObject !== stream) { v.srcObject = stream; }
    const hasVideo = stream && stream.getVideoTracks().some((tr) => tr.readyState === "live" && tr.enabled);
    t.classList.toggle("av-novideo", !hasVideo);
    v.play().catch(() => {});
  }

  // Peers.
  function send(to, fields) {
    if (!call) { return; }
    const f = Object.assign({ room: call.room }, fields);
    if (to) { f.to = to; }
    counts.sent++;
    api.send("av.signal", f).then(() => { counts.relayed++; }, (e) => {
      warn("signal to " + to + ": " + e.message);
    });
  }

  function peer(name, display) {
    let p = call.peers.get(key(name));
    if (p) { return p; }
    const pc = new RTCPeerConnection({ iceServers: call.ice });
    p = {
      name: name, pc: pc, polite: key(me()) < key(name),
      makingOffer: false, ignoreOffer: false, answerPending: false, offeredAt: 0, waitingSince: 0,
      queue: Promise.resolve(), stream: new MediaStream(), early: [],
      tile: tile(name, display)
    };
    p.tile.avPeer = pc; // for tests: getStats() of this participant's connection
    call.peers.set(key(name), p);
    if (call.local) {
      for (const tr of call.local.getTracks()) { pc.addTrack(tr, call.local); }
    }
    pc.onnegotiationneeded = async () => {
      try {
        p.makingOffer = true;
        await pc.setLocalDescription();
        p.offeredAt = Date.now();
        send(name, { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      } catch (e) {
        warn("offer to " + name + ": " + e.message);
      } finally {
        p.makingOffer = false;
      }
    };
    pc.onicecandidate = (ev) => {
      if (ev.candidate) { send(name, { candidate: ev.candidate.toJSON() }); }
    };
    pc.ontrack = (ev) => {
      p.stream.addTrack(ev.track);
      ev.track.onunmute = () => showStream(p.tile, p.stream, false);
      ev.track.onended = () => showStream(p.tile, p.stream, false);
      showStream(p.tile, p.stream, false);
    };
    pc.oniceconnectionstatechange = () => {
      p.tile.dataset.state = pc.iceConnectionState;
      if (pc.iceConnectionState === "failed") { pc.restartIce(); }
    };
    showStream(p.tile, p.stream, false);
    // A connection that has not started to negotiate after a while (an
    // offer lost on the way, refused for the rate) offers again.
    // An offer without an answer for long is taken back and made again.
    p.watchdog = setInterval(() => {
      if (pc.signalingState === "closed") { clearInterval(p.watchdog); return; }
      if (p.makingOffer) { return; }
      const unanswered = pc.signalingState === "have-local-offer" && Date.now() - p.offeredAt > 8000;
      const unstarted = pc.signalingState === "stable" && !pc.remoteDescription;
      // Negotiated, but ICE never began (no candidate gathered after a
      // collision) for 6 s, however often the other end offered again
      // meanwhile: the impolite end restarts ICE once; the polite end,
      // or an end whose restart did not help, makes a new connection,
      // which offers afresh.
      const waiting = pc.signalingState === "stable" && pc.remoteDescription && pc.iceConnectionState === "new";
      if (!waiting) {
        p.waitingSince = 0;
      } else if (!p.waitingSince) {
        p.waitingSince = Date.now();
      } else if (Date.now() - p.waitingSince > 6000) {
        counts.restarts = (counts.restarts || 0) + 1;
        p.waitingSince = Date.now();
        p.restarts = (p.restarts || 0) + 1;
        if (p.polite || p.restarts > 1) {
          counts.renewed = (counts.renewed || 0) + 1;
          dropPeer(name);
          peer(name, p.tile.querySelector(".av-name").textContent);
          return;
        }
        pc.restartIce();
        return;
      }
      if (!unanswered && !unstarted) { return; }
      counts.retries = (counts.retries || 0) + 1;
      p.queue = p.queue.then(async () => {
        if (pc.signalingState === "have-local-offer") { await pc.setLocalDescription({ type: "rollback" }); }
        await pc.onnegotiationneeded();
      }).catch((e) => { warn("offer again to " + name + ": " + e.message); });
    }, 4000);
    return p;
  }

  function dropPeer(name) {
    if (!call) { return; }
    const p = call.peers.get(key(name));
    if (!p) { return; }
    call.peers.delete(key(name));
    clearInterval(p.watchdog);
    p.pc.close();
    p.tile.remove();
  }

  // onSignal is the perfect-negotiation answer to a description or a
  // candidate, one at a time per peer.
  function onSignal(d) {
    counts.received++;
    if (!call && joining) { counts.early++; joining.push(d); return; }
    if (!call || d.call !== call.id || key(d.from) === key(me())) { counts.dropped++; return; }
    if (call.mode === "sfu") { onServerSignal(d); return; }
    const p = peer(d.from);
    p.queue = p.queue.then(async () => {
      const pc = p.pc;
      if (d.description) {
        const desc = d.description;
        const ready = !p.makingOffer && (pc.signalingState === "stable" || p.answerPending);
        const collision = desc.type === "offer" && !ready;
        p.ignoreOffer = !p.polite && collision;
        if (p.ignoreOffer) { return; }
        p.answerPending = desc.type === "answer";
        // The polite end takes its own offer back itself before it takes
        // the other's (the rollback setRemoteDescription would do
        // implicitly): after an implicit one Chromium sometimes never
        // gathered a candidate for the answer.
        if (desc.type === "offer" && pc.signalingState === "have-local-offer") {
          await pc.setLocalDescription({ type: "rollback" });
        }
        await pc.setRemoteDescription(desc);
        p.answerPending = false;
        // Candidates that came before the description (signals of one
        // connection may be relayed out of order).
        for (const c of p.early.splice(0)) { await pc.addIceCandidate(c).catch(() => {}); }
        if (desc.type === "offer") {
          await pc.setLocalDescription();
          send(p.name, { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
        }
      } else if (d.candidate) {
        if (!pc.remoteDescription) {
          p.early.push(d.candidate);
          return;
        }
        try {
          await pc.addIceCandidate(d.candidate);
        } catch (e) {
          if (!p.ignoreOffer) { throw e; }
        }
      }
    }).catch((e) => { warn("signal from " + d.from + ": " + e.message); });
  }

  // The connection with the module in mode sfu: the module offers (its
  // tracks: one stream per participant, whose id is the name), this end
  // answers, adding its own tracks to the transceivers the offer brings.
  function serverPeer() {
    const pc = new RTCPeerConnection({ iceServers: call.ice });
    const p = { pc: pc, queue: Promise.resolve(), early: [] };
    if (call.local) {
      for (const tr of call.local.getTracks()) { pc.addTrack(tr, call.local); }
    }
    pc.onicecandidate = (ev) => {
      if (ev.candidate) { send("", { candidate: ev.candidate.toJSON() }); }
    };
    pc.ontrack = (ev) => {
      const stream = ev.streams[0];
      if (!stream) { return; }
      const t = tile(stream.id);
      t.avPeer = pc;
      const show = () => showStream(t, stream, false);
      ev.track.onunmute = show;
      stream.onremovetrack = show;
      show();
    };
    pc.oniceconnectionstatechange = () => { dock.dataset.state = pc.iceConnectionState; };
    return p;
  }

  function onServerSignal(d) {
    const p = call.sfu;
    p.queue = p.queue.then(async () => {
      const pc = p.pc;
      if (d.description) {
        if (d.description.type !== "offer") { return; }
        await pc.setRemoteDescription(d.description);
        for (const c of p.early.splice(0)) { await pc.addIceCandidate(c).catch(() => {}); }
        await pc.setLocalDescription();
        send("", { description: { type: pc.localDescription.type, sdp: pc.localDescription.sdp } });
      } else if (d.candidate) {
        if (!pc.remoteDescription) { p.early.push(d.candidate); return; }
        await pc.addIceCandidate(d.candidate);
      }
    }).catch((e) => { warn("signal from the server: " + e.message); });
  }

  // Media: camera and microphone where the room has video, else the
  // microphone; what the browser cannot give is left out.
  async function media(video) {
    const tries = video ? [{ audio: true, video: true }, { audio: true }, { video: true }] : [{ audio: true }];
    for (const c of tries) {
      try { return await navigator.mediaDevices.getUserMedia(c); } catch (e) { /* try less */ }
    }
    return null;
  }

  async function join() {
    const r = api.room();
    if (!r || !r.audio || call) { return; }
    callButton.el.disabled = true;
    let local = null;
    try {
      const st = await api.send("av.state", {});
      if (st.publish) {
        local = await media(st.video);
        if (!local) { api.showSystem("No camera or microphone: you join the call to listen."); }
      }
      joining = [];
      const j = await api.send("av.join", { room: r.id, publish: !!local });
      if (!j.publish && local) {
        local.getTracks().forEach((t) => t.stop());
        local = null;
      }
      if (local && !j.video) {
        local.getVideoTracks().forEach((t) => { t.stop(); local.removeTrack(t); });
      }
      call = { id: j.call, room: r.id, mode: j.mode || "mesh", publish: j.publish, video: j.video, ice: j.ice_servers || [], local: local, peers: new Map(), sfu: null };
      const self = tile(me(), "You");
      self.classList.add("av-self");
      if (local) { showStream(self, local, true); } else { self.classList.add("av-novideo"); }
      bMic.hidden = !local || local.getAudioTracks().length === 0;
      bCam.hidden = !local || local.getVideoTracks().length === 0;
      setMic(true);
      setCam(true);
      say(j.publish ? "" : "You are listening.");
      if (call.mode === "sfu") {
        call.sfu = serverPeer();
        for (const p of j.participants) {
          if (key(p.name) !== key(me())) { tile(p.name, p.display); }
        }
      } else {
        for (const p of j.participants) {
          if (key(p.name) !== key(me())) { peer(p.name, p.display); }
        }
      }
      setRoomCall(j.call, j.participants, j.version);
      const early = joining;
      joining = null;
      early.forEach(onSignal);
    } catch (e) {
      joining = null;
      if (local) { local.getTracks().forEach((t) => t.stop()); }
      api.showSystem("You cannot join the call: " + e.message);
    } finally {
      callButton.el.disabled = false;
      draw();
    }
  }

  // end stops this user's part of the call (the module is told by leave,
  // or knows already).
  function end(why) {
    if (!call) { return; }
    for (const p of call.peers.values()) { clearInterval(p.watchdog); p.pc.close(); }
    if (call.sfu) { call.sfu.pc.close(); }
    if (call.local) { call.local.getTracks().forEach((t) => t.stop()); }
    tiles.textContent = "";
    call = null;
    if (why) { api.showSystem(why); }
    draw();
  }

  function leave(why) {
    if (!call) { return; }
    const room = call.room;
    end(why);
    api.send("av.leave", { room: room }).catch(() => {});
  }

  function setMic(on) {
    const tr = call && call.local ? call.local.getAudioTracks() : [];
    tr.forEach((t) => { t.enabled = on; });
    bMic.textContent = on ? "Mute" : "Unmute";
    bMic.setAttribute("aria-pressed", String(!on));
    dock.classList.toggle("av-mic-off", !on);
  }

  function setCam(on) {
    const tr = call && call.local ? call.local.getVideoTracks() : [];
    tr.forEach((t) => { t.enabled = on; });
    bCam.textContent = on ? "Camera off" : "Camera on";
    bCam.setAttribute("aria-pressed", String(!on));
    const self = tiles.querySelector(".av-self");
    if (self && call && call.local) { showStream(self, call.local, true); }
  }

  bMic.addEventListener("click", () => {
    const tr = call && call.local ? call.local.getAudioTracks()[0] : null;
    if (tr) { setMic(!tr.enabled); }
  });
  bCam.addEventListener("click", () => {
    const tr = call && call.local ? call.local.getVideoTracks()[0] : null;
    if (tr) { setCam(!tr.enabled); }
  });
  bLeave.addEventListener("click", () => leave("You left the call."));

  // The room's call as the module tells it.
  api.on("av.joined", (ev) => {
    if (ev.room !== roomID) { return; }
    const d = ev.data;
    setRoomCall(d.call, d.participants, d.version);
    if (call && d.call === call.id && key(d.user) !== key(me())) {
      const p = d.participants.find((x) => key(x.name) === key(d.user));
      if (call.mode === "sfu") { tile(d.user, p && p.display); } else { peer(d.user, p && p.display); }
    }
  });
  api.on("av.left", (ev) => {
    if (ev.room !== roomID) { return; }
    const d = ev.data;
    setRoomCall(d.participants.length ? d.call : "", d.participants, d.version);
    if (!call || d.call !== call.id) { return; }
    if (key(d.user) === key(me())) {
      if (d.reason !== "rejoined") {
        const why = { muted: "you were muted", banned: "you were banned", disconnected: "your connection was lost" }[d.reason] || "you left";
        end("You are no longer in the call: " + why + ".");
      }
      return;
    }
    if (call.mode === "sfu") {
      const t = tiles.querySelector('.av-tile[data-user="' + CSS.escape(d.user) + '"]');
      if (t) { t.remove(); }
      return;
    }
    dropPeer(d.user);
  });
  api.on("av.ended", (ev) => {
    if (ev.room !== roomID) { return; }
    setRoomCall("", [], ev.data.version);
    if (call) { end("The call ended; press Call to join again."); }
  });
  api.on("av.signal", (ev) => { onSignal(ev.data); });

  // Entering a room asks who is in its call.
  function roomChanged() {
    const r = api.room();
    const id = r && r.audio ? r.id : 0;
    if (call && (!r || r.id !== call.room)) { end("You left the call with the room."); }
    if (id !== roomID) {
      roomID = id;
      setRoomCall("", []);
      if (id) {
        const asked = news;
        api.send("av.state", { room: id }).then((st) => {
          if (roomID === id && news === asked) { setRoomCall(st.call, st.participants, st.version); }
        }).catch(() => {});
      }
    }
    draw();
  }
  api.on("joined", () => { roomID = 0; roomChanged(); });
  api.on("left", roomChanged);
  api.on("rooms", roomChanged);
  api.on("rooms_delta", roomChanged);
  api.on("logged_out", () => { end(""); roomID = 0; roomChanged(); });
  api.on("disconnected", () => {
    end(call ? "Connection lost: you left the call." : "");
    roomID = 0;
    setRoomCall("", []);
  });
  roomChanged();
}
