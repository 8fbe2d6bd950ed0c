"""A held-out corpus: messages a SOC team writes to the bot in Webex, written fresh by a reviewer
(2026-12-07, probe-bot) without looking at the matcher or at the other corpora, before any fix.

Each entry is ``(message, where, expect)``:

- ``message``: what the person typed; ``{bot}`` is the bot's ``<spark-mention>`` (its display name in
  the text); ``**x**``, ``*x*`` and ```x``` are markdown as typed (the html gets ``<strong>`` ...);
  lines starting ``> `` are a quote (``<blockquote>`` in the html).
- ``where``: ``top`` (the SOC space, top level), ``dm`` (a 1:1 space: no mention markup), ``ws`` /
  ``fin`` / ``shell`` (a reply in that case's thread, under its cards), ``sev`` (a reply under the
  WS-0142 case's SEV-1 announcement), ``review1`` ... (a reply under a review card, each its own case).
- ``expect``: ``(what, subject)``, see :data:`KINDS`.

The world (``tests/bot/test_heldout_corpus.py``): the Shellshock day of ``tests/bot/story.py`` (the
isolation of Linux-Server and the block of 10.0.2.8 proposed, awaiting Alice), plus a Cobalt Strike
beacon on WS-0142 (device address 10.20.4.142, user mlopez, C2 185.220.101.45 and
cdn-update-check.net; SEV-1: the isolation approved by Alice and carried out by Bob, the block only
proposed) and a ransomware canary on FIN-LAP-7 (device address 10.0.0.5, user kchan; SEV-1: isolated,
approved and carried out), and reviews asked of Tier 2 on build agents.
"""

from __future__ import annotations

WS = "edr:DET-88213"
"""The Cobalt Strike case on WS-0142."""
FIN = "edr:DET-88301"
"""The ransomware case on FIN-LAP-7."""
SHELL = "wazuh:eV5665cBARIQcDql-GZ3"
"""The Shellshock case on Linux-Server."""
PAM = "wazuh:20cJ1pcBxOat6TbbGa0i"
SQLI = "wazuh:xhdS15cB1Hp-jZ7ff7BW"
LOGON_WIN11 = "wazuh:CAqs35cBiGYaRV9XU7DQ"
LOGON_SRV = "wazuh:tF6e65cBARIQcDqlr2sh"

KINDS = {
    "host": "the answer about a host / indicator / user (subject 'NAME@CASE'): its heading names it and"
    " the answer names the case",
    "address": "'IP>HOST@CASE': the bot says whose address it is, then answers about that host",
    "about": "an answer about the case (subject): its id in the answer's first lines, no 'which one'",
    "pick": "'A|B|C': the bot asks which, listing those hosts (several containments fit)",
    "record": "the full record of the case",
    "oncall": "who is on call",
    "pending": "what waits on people (approvals, reviews)",
    "glance": "the SOC over a window (a shift summary)",
    "open": "the open cases (subject: a SEV or None)",
    "acked": "the review of the case (subject) is taken by the person: one ReviewRequested by a human",
    "closed": "'CASE|label': the case is closed with that label",
    "safe": "nothing is changed (no human event published); any non-state-changing answer",
    "chat": "nothing is changed, and the answer is a short line or 'I did not understand that.'",
}

CORPUS: list[tuple[str, str, tuple[str, str | None]]] = [
    # --- the headline question, naming the host, at top level ------------------------------------------
    ("{bot} why'd we isolate WS-0142?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did we isolate ws-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} what made u quarantine WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} reason for containing 10.0.0.5 ??", "top", ("address", f"10.0.0.5>FIN-LAP-7@{FIN}")),
    ("{bot} explain the containment on host FIN-LAP-7", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("why did it contain WS-0142 {bot}", "top", ("host", f"WS-0142@{WS}")),
    ("hey so {bot} why did it contain WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} WHY WAS WS-0142 ISOLATED", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why was WS-0142 isolated 😡", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why was WS-0142 isolated?? 🙏🙏", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why was **WS-0142** isolated?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why was `WS-0142` isolated", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain \u201cWS-0142\u201d?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why\u2019d it isolate ws-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} whyd u isolate ws0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it islolate WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} y was ws-0142 taken off the network", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} who isolated WS-0142 and on whose say-so?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} can you tell me why WS-0142 got network-contained", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} what was the reasoning behind isolating WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} justification for the WS-0142 isolation?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why is WS-0142 offline", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why is fin-lap-7 quarantined", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} whats the reason FIN-LAP-7 was contained", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} why did the AI contain FIN-LAP-7?", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} why was fin-lap7 cut off", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} isolation of FIN-LAP-7 \u2014 why?", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} FIN-LAP-7 isolated?? why", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} why was 10.0.0.5 contained", "top", ("address", f"10.0.0.5>FIN-LAP-7@{FIN}")),
    ("{bot} why did we isolate the box at 10.0.0.5", "top", ("address", f"10.0.0.5>FIN-LAP-7@{FIN}")),
    ("{bot} why is 10.0.0.5 not reachable anymore", "top", ("address", f"10.0.0.5>FIN-LAP-7@{FIN}")),
    ("{bot} why was 10.20.4.142 isolated", "top", ("address", f"10.20.4.142>WS-0142@{WS}")),
    ("{bot} why was 185.220.101.45 blocked?", "top", ("host", f"185.220.101.45@{WS}")),
    ("{bot} why block 185[.]220[.]101[.]45", "top", ("host", f"185.220.101.45@{WS}")),
    ("{bot} whats up with cdn-update-check[.]net", "top", ("host", f"cdn-update-check.net@{WS}")),
    ("{bot} why was mlopez flagged", "top", ("host", f"mlopez@{WS}")),
    ("{bot} explain the cobalt strike case", "top", ("about", WS)),
    ("{bot} what happened with the ransomware thing", "top", ("about", FIN)),
    ("{bot} DET-88213 \u2014 why contained?", "top", ("about", WS)),
    (f"{{bot}} why was {WS} contained", "top", ("about", WS)),
    ("{bot} why did you guys isolate WS-0142 without asking me", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} quick q: why WS-0142?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} hey, whats the reason behind WS-0142's isolation", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} WS-0142's isolation - who approved?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} who approved isolating WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} was the WS-0142 isolation approved by a human?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} is WS-0142 still isolated?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} has FIN-LAP-7 been contained yet", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} did anyone actually isolate fin-lap-7 or just propose it", "top", ("host", f"FIN-LAP-7@{FIN}")),
    ("Why did it contain WS-0142?\n\n{bot}", "top", ("host", f"WS-0142@{WS}")),
    ("{bot}: why did it contain WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("@{bot} why did it contain WS-0142", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain WS-0142 ?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain WS-0142?!", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain WS-0142 (the HR workstation)?", "top", ("host", f"WS-0142@{WS}")),
    (
        "{bot} why did it contain WS-0142, it's the CFO's assistant's machine",
        "top",
        ("host", f"WS-0142@{WS}"),
    ),
    ("{bot} Why did it contain WS\u20110142?", "top", ("host", f"WS-0142@{WS}")),  # non-breaking hyphen
    ("{bot} why did it contain WS\u20130142", "top", ("host", f"WS-0142@{WS}")),  # en dash (autocorrect)
    ("{bot} why did it contain ws-0142.corp.example.com", "top", ("host", f"WS-0142@{WS}")),
    # --- the headline question without a host, at top level: several containments, so it asks ---------
    ("{bot} why did it contain that host?", "top", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("{bot} why'd it isolate that machine", "top", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("{bot} what made u quarantine the box", "top", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("{bot} why did you isolate that endpoint?", "top", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("{bot} why\u2019d it contain that host??", "top", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    # --- in the WS-0142 case's thread, under its cards, no host named -------------------------------------
    ("{bot} why did it contain that host?", "ws", ("host", f"WS-0142@{WS}")),
    ("why did it contain that host {bot}", "ws", ("host", f"WS-0142@{WS}")),
    ("{bot} why'd we isolate it?", "ws", ("about", WS)),
    ("{bot} what made u quarantine the box", "ws", ("about", WS)),
    ("{bot} reason for containment?", "ws", ("about", WS)),
    ("{bot} why was this contained", "ws", ("about", WS)),
    ("{bot} y isolate", "ws", ("about", WS)),
    ("{bot} why the isolation?", "ws", ("about", WS)),
    ("{bot} explain the containment", "ws", ("about", WS)),
    ("{bot} explain pls \U0001f64f", "ws", ("about", WS)),
    ("{bot} WHY", "ws", ("about", WS)),
    ("{bot} why tho", "ws", ("about", WS)),
    ("{bot} wait why did this get isolated", "ws", ("about", WS)),
    ("{bot} who signed off on this?", "ws", ("about", WS)),
    ("{bot} who approved the containment", "ws", ("about", WS)),
    ("{bot} did someone actually isolate it?", "ws", ("about", WS)),
    ("{bot} is the host still isolated?", "ws", ("about", WS)),
    ("{bot} what's the evidence", "ws", ("about", WS)),
    ("{bot} what did tier 2 find?", "ws", ("about", WS)),
    ("{bot} why sev1?", "ws", ("about", WS)),
    ("{bot} why\u2019d it contain that host?", "ws", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain that host ??", "ws", ("host", f"WS-0142@{WS}")),
    ("{bot} why did it contain *that* host", "ws", ("host", f"WS-0142@{WS}")),
    ("can you explain {bot} why it contained that host", "ws", ("host", f"WS-0142@{WS}")),
    ("{bot} more", "ws", ("record", WS)),
    ("{bot} where are we on this one?", "ws", ("about", WS)),
    ("{bot} whats the latest here", "ws", ("about", WS)),
    ("{bot} any update?", "ws", ("about", WS)),
    # --- in the FIN-LAP-7 and Shellshock threads ----------------------------------------------------------
    ("{bot} why did it contain that host", "fin", ("host", f"FIN-LAP-7@{FIN}")),
    ("{bot} why was the laptop isolated?", "fin", ("about", FIN)),
    ("{bot} was this approved by a person or did the AI do it?", "fin", ("about", FIN)),
    ("{bot} reason?", "fin", ("about", FIN)),
    ("{bot} why did it contain that host", "shell", ("host", f"Linux-Server@{SHELL}")),
    ("{bot} has the server been isolated yet?", "shell", ("about", SHELL)),
    # --- under the SEV-1 announcement (a top-level post about the WS-0142 case) ---------------------------
    ("{bot} why did it contain that host?", "sev", ("host", f"WS-0142@{WS}")),
    ("{bot} why?", "sev", ("about", WS)),
    ("{bot} who approved?", "sev", ("about", WS)),
    # --- pasted card text --------------------------------------------------------------------------------
    (
        "{bot} Isolate host: WS-0142 \u2014 approved by alice@example.com\nwhy was this done?",
        "top",
        ("host", f"WS-0142@{WS}"),
    ),
    ("> Carried out: Isolate host: FIN-LAP-7\n\n{bot} why?", "top", ("host", f"FIN-LAP-7@{FIN}")),
    (
        f"\U0001f6a8 SEV-1: Cobalt Strike beacon on WS-0142 \u2014 case {WS}\n{{bot}} why was it contained",
        "top",
        ("about", WS),
    ),
    ('{bot} re: "Isolate host WS-0142" \u2014 why?', "top", ("host", f"WS-0142@{WS}")),
    # --- a 1:1 space: no mention markup, people type the name anyway ---------------------------------
    ("why'd we isolate WS-0142?", "dm", ("host", f"WS-0142@{WS}")),
    ("@SOCbot why did it contain that host", "dm", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("why did it contain that host @SOCbot", "dm", ("pick", "WS-0142|FIN-LAP-7|Linux-Server")),
    ("SOCbot, why is FIN-LAP-7 contained", "dm", ("host", f"FIN-LAP-7@{FIN}")),
    ("who is on call", "dm", ("oncall", None)),
    ("thanks", "dm", ("chat", None)),
    # --- approvals --------------------------------------------------------------------------------------
    ("{bot} any approvals pending?", "top", ("pending", None)),
    ("{bot} what's waiting for approval", "top", ("pending", None)),
    ("{bot} what needs sign-off right now?", "top", ("pending", None)),
    ("{bot} anything I need to approve?", "top", ("pending", None)),
    ("{bot} pending approvals pls", "top", ("pending", None)),
    ("{bot} are there open approval requests?", "top", ("pending", None)),
    ("{bot} approvals?", "top", ("pending", None)),
    ("{bot} what's stuck waiting on the IR lead", "top", ("pending", None)),
    ("{bot} has the WS-0142 block been approved yet?", "top", ("host", f"WS-0142@{WS}")),
    ("{bot} did alice approve the shellshock isolation?", "top", ("about", SHELL)),
    # --- who is on call ---------------------------------------------------------------------------------
    ("{bot} who's on call rn?", "top", ("oncall", None)),
    ("{bot} whos oncall today", "top", ("oncall", None)),
    ("{bot} who has the pager?", "top", ("oncall", None)),
    ("{bot} who is the on-call IR lead", "top", ("oncall", None)),
    ("{bot} who's on duty tonight?", "top", ("oncall", None)),
    ("{bot} on-call?", "top", ("oncall", None)),
    ("{bot} who's tier 2 on call", "top", ("oncall", None)),
    ("{bot} who do I page for approvals?", "top", ("oncall", None)),
    ("{bot} WHO IS ON CALL", "top", ("oncall", None)),
    ("{bot} who\u2019s on call this week?", "top", ("oncall", None)),
    ("{bot} who's on call?", "ws", ("oncall", None)),
    # --- the shift --------------------------------------------------------------------------------------
    ("{bot} shift summary pls", "top", ("glance", None)),
    ("{bot} give me the handover", "top", ("glance", None)),
    ("{bot} summary of the last 8 hours", "top", ("glance", None)),
    ("{bot} what happened during the night shift?", "top", ("glance", None)),
    ("{bot} recap of today?", "top", ("glance", None)),
    ("{bot} end of shift summary", "top", ("glance", None)),
    ("{bot} can I get a quick rundown of the shift", "top", ("glance", None)),
    ("{bot} catch me up", "top", ("glance", None)),
    ("{bot} what's been going on today", "top", ("glance", None)),
    ("{bot} tl;dr of the last shift?", "top", ("glance", None)),
    ("{bot} what incidents are open", "top", ("open", None)),
    ("{bot} list open cases", "top", ("open", None)),
    ("{bot} any sev-1 open?", "top", ("open", "1")),
    # --- small talk and unrelated words: nothing changes -----------------------------------------------
    ("{bot} lunch anyone?", "top", ("chat", None)),
    ("{bot} good night all", "top", ("chat", None)),
    ("{bot} brb", "top", ("chat", None)),
    ("{bot} \U0001f602\U0001f602", "top", ("chat", None)),
    ("{bot} you're a good bot", "top", ("chat", None)),
    ("{bot} this bot is useless lol", "top", ("chat", None)),
    ("{bot} test", "top", ("chat", None)),
    ("{bot} testing 1 2 3", "top", ("chat", None)),
    ("{bot} who won the game last night?", "top", ("chat", None)),
    ("{bot} coffee?", "top", ("chat", None)),
    ("{bot} ok", "ws", ("chat", None)),
    ("{bot} k", "top", ("chat", None)),
    ("{bot} sounds good", "ws", ("chat", None)),
    ("{bot} \U0001f440", "ws", ("chat", None)),
    ("{bot} interesting", "ws", ("chat", None)),
    ("{bot} hmm", "top", ("chat", None)),
    ("{bot} my bad", "top", ("chat", None)),
    ("{bot} pause for a sec, let me check something", "top", ("safe", None)),
    ("{bot} pause all notifications please, too noisy", "top", ("safe", None)),
    ("{bot} resume tomorrow", "top", ("safe", None)),
    ("{bot} done for the day, bye", "top", ("safe", None)),
    ("{bot} done for the day, bye", "ws", ("safe", None)),
    ("{bot} assign blame to whoever wrote this rule \U0001f605", "ws", ("safe", None)),
    ("{bot} reopen the discussion tomorrow?", "fin", ("safe", None)),
    ("{bot} take over the world", "top", ("safe", None)),
    ("{bot} can you stop pinging me", "top", ("safe", None)),
    # --- reviews: only a clear ack takes one; each ack in its own review's thread ------------------------
    ("{bot} on it", "review1", ("safe", None)),
    ("{bot} should I ack this?", "review1", ("safe", None)),
    ("{bot} don't ack this yet", "review1", ("safe", None)),
    ("{bot} who acked this?", "review1", ("safe", None)),
    ("{bot} what is this alert about?", "review1", ("about", "jsonl:alert-71")),
    ("{bot} can someone else ack, I'm swamped", "review1", ("safe", None)),
    ("{bot} acking this one", "review2", ("acked", "jsonl:alert-72")),
    ("{bot} ACK \U0001f44d", "review3", ("acked", "jsonl:alert-73")),
    ("{bot} ack - looking now", "review4", ("acked", "jsonl:alert-74")),
    ("{bot} acknowledging, on it", "review5", ("acked", "jsonl:alert-75")),
    ("{bot} ack\u2019d", "review6", ("acked", "jsonl:alert-76")),
    ("ack {bot}", "review7", ("acked", "jsonl:alert-77")),
    ("{bot} I'll ack this", "review8", ("acked", "jsonl:alert-78")),
    ("{bot} ack alert-79", "top", ("acked", "jsonl:alert-79")),
    ("{bot} ack jsonl:alert-80", "top", ("acked", "jsonl:alert-80")),
    # --- closes: a clear close with a label closes; anything else changes nothing ------------------------
    ("{bot} close?", "review1", ("safe", None)),
    ("{bot} should we close this?", "review1", ("safe", None)),
    ("{bot} I wouldn't close this yet", "review1", ("safe", None)),
    ("{bot} close call on that one lol", "ws", ("safe", None)),
    ("{bot} close the loop with the user pls", "ws", ("safe", None)),
    ("{bot} don't close this one, still investigating", "fin", ("safe", None)),
    ("{bot} was this closed?", "fin", ("safe", None)),
    ("{bot} who closed this?", "fin", ("safe", None)),
    (f"{{bot}} close {PAM} fp - vboxuser fat-fingered their password", "top", ("closed", f"{PAM}|false")),
    (f"{{bot}} close {SQLI} as benign, it was our pentest", "top", ("closed", f"{SQLI}|benign")),
    (f"{{bot}} pls close {LOGON_WIN11} as a true positive", "top", ("closed", f"{LOGON_WIN11}|true")),
    (f"{{bot}} close {LOGON_SRV} \u2013 false positive, admin RDP", "top", ("closed", f"{LOGON_SRV}|false")),
    ("{bot} close as fp, known admin script", "review2", ("closed", "jsonl:alert-72|false")),
    (
        "{bot} closing this as benign \u2014 it's the nightly build",
        "review3",
        ("closed", "jsonl:alert-73|benign"),
    ),
    ("{bot} close: false positive", "review4", ("closed", "jsonl:alert-74|false")),
]
"""The held-out corpus, in the order it is said (what changes state comes last)."""
