// What the browser runs for a challenge — proof of work, or a hosted captcha's widget: the form Warren puts into the page
// ({{{challenge}}}), the page script and its Web Worker (served under /.well-known/warren/, no
// inline script, no third party). The worker hashes with its own SHA-256: WebCrypto exists only in
// secure contexts, and a public listener may be plain HTTP.

export const CHALLENGE_SCRIPT_PATH = "/.well-known/warren/challenge.js";
export const CHALLENGE_WORKER_PATH = "/.well-known/warren/challenge-worker.js";
export const CHALLENGE_VERIFY_PATH = "/.well-known/warren/challenge/verify";
export const CHALLENGE_NOSCRIPT_PATH = "/.well-known/warren/challenge/noscript";

const ASK_FOR_SCRIPT = "<p>This check needs JavaScript. Turn it on and reload the page.</p>";

/**
 * What a browser without JavaScript sees (<noscript>, after the check's form): a request to turn it
 * on; or, for block, a refresh (and a link) to the no-JavaScript endpoint, which answers with the
 * block; or a hosted captcha's no-JavaScript form (reCAPTCHA v2's fallback frame and a field for the
 * code it shows), posted to the same verify endpoint with its own token.
 */
export function noScriptBlock(o: { kind: "ask" } | { kind: "block"; token: string } | { kind: "captcha"; token: string; returnTo: string; fallbackUrl: string }): string {
  if (o.kind === "ask") return `<noscript>${ASK_FOR_SCRIPT}</noscript>`;
  if (o.kind === "block") {
    const url = `${CHALLENGE_NOSCRIPT_PATH}?token=${encodeURIComponent(o.token)}`;
    return `<noscript><meta http-equiv="refresh" content="0; url=${attr(url)}"><p>This check needs JavaScript. <a href="${attr(url)}">Continue without it</a>.</p></noscript>`;
  }
  return (
    `<noscript><form method="post" action="${CHALLENGE_VERIFY_PATH}">` +
    `<input type="hidden" name="token" value="${attr(o.token)}"><input type="hidden" name="return" value="${attr(o.returnTo)}">` +
    `<p>Without JavaScript: solve the check below, paste the code it gives into the box, and continue.</p>` +
    `<iframe src="${attr(o.fallbackUrl)}" title="Captcha" width="302" height="422"></iframe>` +
    `<p><label for="warren-noscript-response">Code</label><br><textarea id="warren-noscript-response" name="response" rows="3" cols="40"></textarea></p>` +
    `<p><button type="submit">Continue</button></p></form></noscript>`
  );
}
export const CAPTCHA_SCRIPT_PATH = "/.well-known/warren/captcha.js";
/** The global the widget calls with its response (data-callback). */
export const CAPTCHA_CALLBACK = "warrenCaptchaDone";

const ATTR_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
const attr = (s: string) => s.replace(/[&<>"']/g, (c) => ATTR_ESCAPES[c]!);

/** The form and script tag a challenge page carries. */
export function challengeWidget(o: { token: string; difficulty: number; returnTo: string; bodyDropped: boolean; noScript: string }): string {
  return (
    `<form id="warren-challenge" method="post" action="${CHALLENGE_VERIFY_PATH}" data-difficulty="${o.difficulty}">` +
    `<input type="hidden" name="token" value="${attr(o.token)}"><input type="hidden" name="nonce" value="">` +
    `<input type="hidden" name="return" value="${attr(o.returnTo)}">` +
    `<p id="warren-challenge-status" role="status" aria-live="polite">Checking your browser… this takes a moment.</p>` +
    (o.bodyDropped ? `<p>The form you sent was not forwarded. Send it again after the check.</p>` : "") +
    `</form>${o.noScript}<script src="${CHALLENGE_SCRIPT_PATH}" defer></script>`
  );
}

/**
 * The form a captcha challenge page carries: the provider's widget, Warren's script (which puts the
 * widget's response into the form and submits it; loaded first so the callback exists before the
 * widget can call it) and the provider's script.
 */
export function captchaWidget(o: { token: string; returnTo: string; bodyDropped: boolean; widgetClass: string; siteKey: string; scriptUrl: string; noScript: string }): string {
  return (
    `<form id="warren-challenge" method="post" action="${CHALLENGE_VERIFY_PATH}">` +
    `<input type="hidden" name="token" value="${attr(o.token)}"><input type="hidden" name="response" value="">` +
    `<input type="hidden" name="return" value="${attr(o.returnTo)}">` +
    `<div class="${attr(o.widgetClass)}" data-sitekey="${attr(o.siteKey)}" data-callback="${CAPTCHA_CALLBACK}"></div>` +
    `<p id="warren-challenge-status" role="status" aria-live="polite">Complete the check to continue.</p>` +
    (o.bodyDropped ? `<p>The form you sent was not forwarded. Send it again after the check.</p>` : "") +
    `</form>${o.noScript}<script src="${CAPTCHA_SCRIPT_PATH}" defer></script><script src="${attr(o.scriptUrl)}" defer></script>`
  );
}

export const CAPTCHA_SCRIPT = `(function () {
  window.${CAPTCHA_CALLBACK} = function (response) {
    var f = document.getElementById("warren-challenge");
    if (!f || typeof response !== "string" || response === "") return;
    f.elements.response.value = response;
    var s = document.getElementById("warren-challenge-status");
    if (s) s.textContent = "Done. Continuing…";
    f.submit();
  };
})();
`;

export const CHALLENGE_SCRIPT = `(function () {
  var f = document.getElementById("warren-challenge");
  if (!f) return;
  var s = document.getElementById("warren-challenge-status");
  var w;
  try { w = new Worker(${JSON.stringify(CHALLENGE_WORKER_PATH)}); } catch (e) { s.textContent = "This browser cannot run the check."; return; }
  w.onmessage = function (e) { f.elements.nonce.value = e.data; s.textContent = "Done. Continuing…"; f.submit(); };
  w.onerror = function () { s.textContent = "This browser cannot run the check."; };
  w.postMessage({ token: f.elements.token.value, difficulty: Number(f.getAttribute("data-difficulty")) });
})();
`;

export const CHALLENGE_WORKER = `"use strict";
var K = new Uint32Array([0x428a2f98,0x71374491,0xb5c0fbcf,0xe9b5dba5,0x3956c25b,0x59f111f1,0x923f82a4,0xab1c5ed5,0xd807aa98,0x12835b01,0x243185be,0x550c7dc3,0x72be5d74,0x80deb1fe,0x9bdc06a7,0xc19bf174,0xe49b69c1,0xefbe4786,0x0fc19dc6,0x240ca1cc,0x2de92c6f,0x4a7484aa,0x5cb0a9dc,0x76f988da,0x983e5152,0xa831c66d,0xb00327c8,0xbf597fc7,0xc6e00bf3,0xd5a79147,0x06ca6351,0x14292967,0x27b70a85,0x2e1b2138,0x4d2c6dfc,0x53380d13,0x650a7354,0x766a0abb,0x81c2c92e,0x92722c85,0xa2bfe8a1,0xa81a664b,0xc24b8b70,0xc76c51a3,0xd192e819,0xd6990624,0xf40e3585,0x106aa070,0x19a4c116,0x1e376c08,0x2748774c,0x34b0bcb5,0x391c0cb3,0x4ed8aa4a,0x5b9cca4f,0x682e6ff3,0x748f82ee,0x78a5636f,0x84c87814,0x8cc70208,0x90befffa,0xa4506ceb,0xbef9a3f7,0xc67178f2]);
var W = new Uint32Array(64);
function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }
// SHA-256 of an ASCII string; returns the first two words of the digest (all the zero-bit count needs).
function sha256(str) {
  var n = str.length, blocks = ((n + 8) >> 6) + 1, words = new Uint32Array(blocks * 16), i;
  for (i = 0; i < n; i++) words[i >> 2] |= str.charCodeAt(i) << (24 - (i & 3) * 8);
  words[n >> 2] |= 0x80 << (24 - (n & 3) * 8);
  words[blocks * 16 - 1] = n * 8;
  var h0 = 0x6a09e667, h1 = 0xbb67ae85, h2 = 0x3c6ef372, h3 = 0xa54ff53a, h4 = 0x510e527f, h5 = 0x9b05688c, h6 = 0x1f83d9ab, h7 = 0x5be0cd19;
  for (var b = 0; b < blocks; b++) {
    for (i = 0; i < 16; i++) W[i] = words[b * 16 + i];
    for (i = 16; i < 64; i++) {
      var x = W[i - 15], y = W[i - 2];
      W[i] = (W[i - 16] + (rotr(x, 7) ^ rotr(x, 18) ^ (x >>> 3)) + W[i - 7] + (rotr(y, 17) ^ rotr(y, 19) ^ (y >>> 10))) | 0;
    }
    var a = h0, bb = h1, c = h2, d = h3, e = h4, f = h5, g = h6, h = h7;
    for (i = 0; i < 64; i++) {
      var t1 = (h + (rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)) + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
      var t2 = ((rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)) + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
      h = g; g = f; f = e; e = (d + t1) | 0; d = c; c = bb; bb = a; a = (t1 + t2) | 0;
    }
    h0 = (h0 + a) | 0; h1 = (h1 + bb) | 0; h2 = (h2 + c) | 0; h3 = (h3 + d) | 0; h4 = (h4 + e) | 0; h5 = (h5 + f) | 0; h6 = (h6 + g) | 0; h7 = (h7 + h) | 0;
  }
  return [h0 >>> 0, h1 >>> 0];
}
function zeroBits(h) { return h[0] === 0 ? 32 + Math.clz32(h[1]) : Math.clz32(h[0]); }
onmessage = function (m) {
  var token = m.data.token, difficulty = m.data.difficulty;
  for (var nonce = 0; nonce < 1e10; nonce++) {
    if (zeroBits(sha256(token + ":" + nonce)) >= difficulty) { postMessage(String(nonce)); return; }
  }
};
`;

/** The script and worker, as the reserved endpoints answer them. */
export const CHALLENGE_ASSETS: ReadonlyMap<string, string> = new Map([
  [CHALLENGE_SCRIPT_PATH, CHALLENGE_SCRIPT],
  [CHALLENGE_WORKER_PATH, CHALLENGE_WORKER],
  [CAPTCHA_SCRIPT_PATH, CAPTCHA_SCRIPT],
]);
