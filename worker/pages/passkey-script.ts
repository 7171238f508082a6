/**
 * The script behind passkeys (issue #22), served from /assets/passkey.js: the pages' CSP
 * allows scripts from this origin only, so nothing inline. A form marked `data-passkey`
 * ("create" in the console, "get" at sign-in) carries the server's options in
 * `data-options`; on submit the script runs the browser's ceremony, puts its JSON in the
 * form's `response` field and posts the form. No fetch (the CSP has no connect-src): the
 * options come with the page, the answer goes back as an ordinary form post. Without a
 * script or WebAuthn, the forms stay hidden and the code field is the way in.
 */
export const PASSKEY_SCRIPT_PATH = '/assets/passkey.js';

export const PASSKEY_SCRIPT = `"use strict";
const fromB64 = (text) => {
  const plain = atob(text.replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(plain, (char) => char.charCodeAt(0)).buffer;
};
const toB64 = (buffer) => {
  let plain = "";
  for (const byte of new Uint8Array(buffer)) plain += String.fromCharCode(byte);
  return btoa(plain).replace(/\\+/g, "-").replace(/\\//g, "_").replace(/=+$/, "");
};
const withIds = (list) => (list || []).map((item) => ({ ...item, id: fromB64(item.id) }));
function publicKeyOf(kind, options) {
  if (kind === "create") {
    return { ...options, challenge: fromB64(options.challenge), user: { ...options.user, id: fromB64(options.user.id) }, excludeCredentials: withIds(options.excludeCredentials) };
  }
  return { ...options, challenge: fromB64(options.challenge), allowCredentials: withIds(options.allowCredentials) };
}
function jsonOf(credential) {
  const r = credential.response;
  const response = { clientDataJSON: toB64(r.clientDataJSON) };
  if (r.attestationObject) {
    response.attestationObject = toB64(r.attestationObject);
    if (r.getTransports) response.transports = r.getTransports();
  } else {
    response.authenticatorData = toB64(r.authenticatorData);
    response.signature = toB64(r.signature);
    if (r.userHandle) response.userHandle = toB64(r.userHandle);
  }
  const json = { id: credential.id, rawId: toB64(credential.rawId), type: credential.type, response, clientExtensionResults: credential.getClientExtensionResults() };
  if (credential.authenticatorAttachment) json.authenticatorAttachment = credential.authenticatorAttachment;
  return json;
}
for (const form of document.querySelectorAll("form[data-passkey]")) {
  if (!window.PublicKeyCredential || !navigator.credentials) continue;
  const box = form.closest("[data-passkey-box]") || form;
  box.hidden = false;
  const status = form.querySelector("[data-passkey-status]");
  let sent = false;
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    if (sent) return;
    const kind = form.dataset.passkey;
    const publicKey = publicKeyOf(kind, JSON.parse(form.dataset.options));
    try {
      const credential = kind === "create" ? await navigator.credentials.create({ publicKey }) : await navigator.credentials.get({ publicKey });
      form.elements.response.value = JSON.stringify(jsonOf(credential));
      sent = true;
      form.submit();
    } catch (error) {
      if (status) status.textContent = "Your browser or key did not finish (" + (error && error.name ? error.name : "error") + "). Try again, or use a code.";
    }
  });
}
`;
