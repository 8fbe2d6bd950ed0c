// The local preview of the SOC space: polls the bot's messages and draws them as Webex would,
// cards with the bundled Adaptive Cards renderer. Card submits and typed commands go back to the bot
// through the same receiver as Webex's webhooks. No CDN: every script is served by the bot itself.
"use strict";

(function () {
  const feed = document.getElementById("feed");
  const form = document.getElementById("composer");
  const input = document.getElementById("say");
  const replying = document.getElementById("replying");
  const jsError = document.getElementById("js-error");
  const HEADERS = { "Content-Type": "application/json", "X-Aisoc-Preview": "1" };
  const hasCards = typeof window.AdaptiveCards !== "undefined";
  const md = typeof window.markdownit === "function" ? window.markdownit({ html: false, linkify: false }) : null;
  let since = 0;
  let parentId = null;

  function fail(text) {
    jsError.textContent = text;
    jsError.hidden = false;
  }

  if (document.body.dataset.renderer === "bundled" && !hasCards) {
    fail("The Adaptive Cards renderer did not load (bot/static/vendor/adaptivecards.min.js). Run `make install`.");
  }

  if (md) {
    const defaultLink = md.renderer.rules.link_open || function (tokens, idx, options, env, self) {
      return self.renderToken(tokens, idx, options);
    };
    md.renderer.rules.link_open = function (tokens, idx, options, env, self) {
      tokens[idx].attrSet("target", "_blank");
      tokens[idx].attrSet("rel", "noopener noreferrer");
      return defaultLink(tokens, idx, options, env, self);
    };
  }

  // Webex mentions (<@personEmail:a@b|Name>) notify people; here they are shown as @Name.
  function mentions(text) {
    return (text || "").replace(/<@personEmail:[^|>]+\|([^>]+)>/g, "**@$1**");
  }

  function renderMarkdown(el, text) {
    if (md) {
      el.innerHTML = md.render(mentions(text));
    } else {
      el.textContent = mentions(text);
    }
  }

  async function post(url, body) {
    const resp = await fetch(url, { method: "POST", headers: HEADERS, body: JSON.stringify(body) });
    if (!resp.ok) {
      const data = await resp.json().catch(() => ({}));
      throw new Error(data.error || resp.statusText);
    }
    return resp.json();
  }

  function renderCard(msg, content) {
    const card = new AdaptiveCards.AdaptiveCard();
    card.onExecuteAction = function (action) {
      if (action instanceof AdaptiveCards.SubmitAction) {
        post("/preview/api/actions", { messageId: msg.id, inputs: action.data || {} })
          .then(poll)
          .catch((e) => fail("The bot did not take the card action: " + e.message));
      } else if (action instanceof AdaptiveCards.OpenUrlAction) {
        window.open(action.url, "_blank", "noopener");
      }
    };
    card.parse(content);
    return card.render();
  }

  function body(msg) {
    const el = document.createElement("div");
    el.className = "body";
    const attachment = (msg.attachments || [])[0];
    if (attachment && hasCards) {
      try {
        el.appendChild(renderCard(msg, attachment.content));
        const details = document.createElement("details");
        const summary = document.createElement("summary");
        summary.textContent = "Message text (what Webex notifies with)";
        const text = document.createElement("div");
        renderMarkdown(text, msg.markdown || msg.text);
        details.append(summary, text);
        el.appendChild(details);
        return el;
      } catch (e) {
        fail("A card could not be drawn: " + e.message);
      }
    }
    renderMarkdown(el, msg.markdown || msg.text);
    return el;
  }

  function article(msg) {
    const el = document.createElement("article");
    el.className = "msg";
    el.id = "m-" + msg.id;
    el.dataset.id = msg.id;
    el.dataset.author = msg.personId === document.body.dataset.botId ? "bot" : "person";
    const head = document.createElement("div");
    const who = document.createElement("span");
    who.className = "who";
    who.textContent = msg.displayName;
    const when = document.createElement("span");
    when.className = "when";
    when.textContent = new Date(msg.created).toLocaleTimeString();
    head.append(who, when);
    if (msg.updated) {
      const edited = document.createElement("span");
      edited.className = "edited";
      edited.textContent = "(edited)";
      head.appendChild(edited);
    }
    el.append(head, body(msg));
    if (!msg.parentId) {
      const reply = document.createElement("button");
      reply.className = "reply-link";
      reply.type = "button";
      reply.textContent = "Reply in thread";
      reply.addEventListener("click", () => {
        parentId = msg.id;
        replying.textContent = "Replying in thread · Esc to stop";
        replying.hidden = false;
        input.focus();
      });
      const replies = document.createElement("div");
      replies.className = "replies";
      el.append(reply, replies);
    }
    return el;
  }

  function upsert(msg) {
    const old = document.getElementById("m-" + msg.id);
    const fresh = article(msg);
    if (old) {
      const replies = old.querySelector(":scope > .replies");
      if (replies) fresh.replaceChild(replies, fresh.querySelector(":scope > .replies"));
      old.replaceWith(fresh);
      return;
    }
    const parent = msg.parentId && document.querySelector("#m-" + CSS.escape(msg.parentId) + " > .replies");
    (parent || feed).appendChild(fresh);
  }

  async function poll() {
    try {
      const resp = await fetch("/preview/api/messages?since=" + since, { headers: { "X-Aisoc-Preview": "1" } });
      const data = await resp.json();
      for (const msg of data.messages) {
        upsert(msg);
        since = Math.max(since, msg.seq);
      }
      document.body.dataset.seq = String(since);
    } catch (e) {
      fail("The bot does not answer: " + e.message);
    }
  }

  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const text = input.value.trim();
    if (!text) return;
    post("/preview/api/messages", { text: text, parentId: parentId })
      .then(() => {
        input.value = "";
        return poll();
      })
      .catch((e) => fail("Not sent: " + e.message));
  });
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Escape") {
      parentId = null;
      replying.hidden = true;
    }
  });

  poll();
  setInterval(poll, 1000);
})();
