/* 电子发票归档 — the page's JavaScript: plain, no build step.
 * Every action calls the JSON API (/api/v1) with the session cookie and the CSRF header. */
"use strict";

function csrfToken() {
  const m = document.cookie.match(/(?:^|;\s*)fapiao_csrf=([^;]+)/);
  return m ? decodeURIComponent(m[1]) : "";
}

function newKey() {
  if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
  return String(Date.now()) + "-" + Math.random().toString(16).slice(2);
}

class ApiFailure extends Error {
  constructor(status, body) {
    const e = (body && body.error) || {};
    super(e.message || ("请求失败（HTTP " + status + "）"));
    this.status = status;
    this.code = e.code || "http_" + status;
    this.details = e.details || {};
  }
}

async function api(method, path, body, extraHeaders) {
  const headers = Object.assign({"Accept": "application/json"}, extraHeaders || {});
  if (method !== "GET") headers["X-CSRF-Token"] = csrfToken();
  const init = {method: method, headers: headers, credentials: "same-origin"};
  if (body !== undefined && body !== null) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const resp = await fetch("/api/v1" + path, init);
  let data = null;
  try { data = await resp.json(); } catch (e) { data = null; }
  if (resp.status === 401 && path !== "/auth/login") { location.href = "/login?next=" + encodeURIComponent(location.pathname); }
  if (!resp.ok) throw new ApiFailure(resp.status, data);
  return data;
}

function flash(message, bad) {
  const el = document.getElementById("flash");
  if (!el) { alert(message); return; }
  el.textContent = message;
  el.className = "flash" + (bad ? " bad" : "");
  el.hidden = false;
  window.scrollTo(0, 0);
}

function el(tag, attrs, children) {
  const node = document.createElement(tag);
  Object.entries(attrs || {}).forEach(([k, v]) => {
    if (k === "text") node.textContent = v;
    else if (k === "class") node.className = v;
    else node.setAttribute(k, v);
  });
  (children || []).forEach((c) => node.append(c));
  return node;
}

let PAGE = null;
function pageData() {
  if (PAGE) return PAGE;
  const node = document.getElementById("page-labels");
  try { PAGE = JSON.parse(node ? node.textContent : "{}"); } catch (e) { PAGE = {}; }
  PAGE.labels = PAGE.labels || {};
  PAGE.allowed = new Set(PAGE.allowed || []);
  return PAGE;
}
/* The Chinese label of a value (same catalogue as the server's templates). */
function L(domain, value) {
  const d = pageData().labels[domain] || {};
  return d[value] || value || "";
}
/* A server text for people: shown when it is Chinese and carries no English words. */
function readable(text) {
  if (!text || !/[\u3400-\u9fff]/.test(text)) return "";
  const stripped = String(text).replace(/“[^”]*”|'[^']*'|"[^"]*"/g, "").replace(/[\w.\-/]+\.(ofd|pdf|xml|xlsx|zip)\b/gi, "");
  const words = stripped.match(/[A-Za-z][A-Za-z]+/g) || [];
  return words.every((w) => pageData().allowed.has(w)) ? text : "";
}
function money(value) {
  if (value === null || value === undefined || value === "") return "";
  const n = String(value).replace(/[¥,]/g, "");
  if (!/^-?\d+(\.\d+)?$/.test(n)) return String(value);
  const neg = n.startsWith("-");
  const [int, frac] = (neg ? n.slice(1) : n).split(".");
  const cents = ((frac || "") + "00").slice(0, 2);
  return (neg ? "-" : "") + "¥" + int.replace(/\B(?=(\d{3})+(?!\d))/g, ",") + "." + cents;
}
/* ISO timestamp → China time "YYYY-MM-DD HH:MM". */
function fmtTime(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  if (isNaN(d)) return String(iso);
  const parts = new Intl.DateTimeFormat("zh-CN", {timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
    day: "2-digit", hour: "2-digit", minute: "2-digit", hour12: false}).formatToParts(d);
  const p = Object.fromEntries(parts.map((x) => [x.type, x.value]));
  return p.year + "-" + p.month + "-" + p.day + " " + p.hour + ":" + p.minute;
}
/* A button whose API is not served (404 without an error code, or 405): hide it, say so. */
function notServed(e) {
  return e && (e.status === 405 || (e.status === 404 && (e.code === "not_found" || e.code === "http_404") && !e.details.id));
}

/* ---- dialogs: reason (驳回) and confirm (记账, 删除, 冲销) ---- */
function askReason(title, hint) {
  const dlg = document.getElementById("reason-dialog");
  return new Promise((resolve) => {
    const text = document.getElementById("reason-text");
    const err = document.getElementById("reason-error");
    document.getElementById("reason-title").textContent = title || "驳回报销单";
    if (hint) document.getElementById("reason-hint").textContent = hint;
    text.value = "";
    err.hidden = true;
    const form = document.getElementById("reason-form");
    const cancel = document.getElementById("reason-cancel");
    function done(value) {
      form.removeEventListener("submit", onSubmit);
      cancel.removeEventListener("click", onCancel);
      dlg.removeEventListener("cancel", onCancel);
      if (dlg.open) dlg.close();
      resolve(value);
    }
    function onSubmit(ev) {
      ev.preventDefault();
      const v = text.value.trim();
      if (!v) { err.hidden = false; text.focus(); return; }
      done(v);
    }
    function onCancel(ev) { if (ev) ev.preventDefault(); done(null); }
    form.addEventListener("submit", onSubmit);
    cancel.addEventListener("click", onCancel);
    dlg.addEventListener("cancel", onCancel);
    dlg.showModal();
    text.focus();
  });
}

function confirmDialog(title, lines, okText, danger) {
  const dlg = document.getElementById("confirm-dialog");
  return new Promise((resolve) => {
    document.getElementById("confirm-title").textContent = title;
    const body = document.getElementById("confirm-body");
    body.replaceChildren(...lines.map((t) => el("p", {text: t})));
    const ok = document.getElementById("confirm-ok");
    ok.textContent = okText || "确定";
    ok.className = danger ? "danger" : "primary";
    dlg.returnValue = "";
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), {once: true});
    dlg.showModal();
    document.getElementById("confirm-cancel").focus();
  });
}

/* ---- login / logout ---- */
function setupLogin() {
  const form = document.getElementById("login-form");
  if (!form) return;
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("login-error");
    err.hidden = true;
    try {
      await api("POST", "/auth/login", {username: form.username.value.trim(), password: form.password.value});
      location.href = form.dataset.next || "/";
    } catch (e) {
      err.textContent = e.code === "bad_credentials" ? "用户名或密码不正确。" : (readable(e.message) || "登录没有成功，请稍后重试。");
      err.hidden = false;
    }
  });
}

function setupLogout() {
  const b = document.getElementById("logout");
  if (!b) return;
  b.addEventListener("click", async () => {
    try { await api("POST", "/auth/logout"); } finally { location.href = "/login"; }
  });
}

/* ---- upload ---- */
function uploadOne(file, onProgress) {
  return new Promise((resolve, reject) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/v1/invoices");
    xhr.setRequestHeader("X-CSRF-Token", csrfToken());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.setRequestHeader("Idempotency-Key", newKey());
    xhr.upload.addEventListener("progress", (ev) => { if (ev.lengthComputable) onProgress(ev.loaded / ev.total); });
    xhr.addEventListener("load", () => {
      let body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status >= 200 && xhr.status < 300) resolve(body);
      else reject(new ApiFailure(xhr.status, body));
    });
    xhr.addEventListener("error", () => reject(new Error("网络错误，上传没有完成")));
    const fd = new FormData();
    fd.append("files", file, file.name);
    xhr.send(fd);
  });
}

function setupUpload() {
  const drop = document.getElementById("drop");
  if (!drop) return;
  const input = document.getElementById("file-input");
  const pick = document.getElementById("pick-files");
  const table = document.getElementById("upload-results");
  const tbody = table.querySelector("tbody");
  const progress = document.getElementById("upload-progress");
  const max = parseInt(drop.dataset.max, 10);
  let queue = Promise.resolve();
  let added = 0, finished = 0;
  const claimable = [];

  function showProgress() {
    progress.hidden = false;
    progress.textContent = finished < added ? "正在处理：已完成 " + finished + " / " + added + " 个文件" :
      "全部处理完：共 " + added + " 个文件，其中 " + claimable.length + " 张可以报销";
  }

  function addFiles(files) {
    table.hidden = false;
    Array.from(files).forEach((file) => {
      const cells = {};
      const names = ["file", "progress", "result", "number", "date", "seller", "total", "note"];
      const row = el("tr", {"data-file": file.name});
      names.forEach((n) => { cells[n] = el("td", n === "total" ? {class: "num"} : (n === "date" ? {class: "nowrap"} : {})); row.append(cells[n]); });
      cells.file.textContent = file.name;
      const bar = el("progress", {max: "1", value: "0", "aria-label": "上传进度 " + file.name});
      cells.progress.append(bar);
      cells.result.append(el("span", {class: "badge", text: "等待上传"}));
      tbody.append(row);
      added += 1;
      showProgress();
      queue = queue.then(() => handle(file, row, cells, bar)).then(() => { finished += 1; showProgress(); if (window.fmMarkScrollBoxes) window.fmMarkScrollBoxes(); });
    });
  }

  function setResult(cells, cls, text) {
    cells.result.replaceChildren(el("span", {class: "badge " + cls, text: text}));
  }

  async function handle(file, row, cells, bar) {
    if (file.size > max) {
      setResult(cells, "tone-bad", "未接收");
      cells.note.textContent = "文件太大（" + (file.size / 1048576).toFixed(1) + " MB），上限 " + (max / 1048576).toFixed(1) + " MB，没有上传。";
      row.dataset.outcome = "rejected";
      return;
    }
    setResult(cells, "running", "上传中");
    try {
      const res = await uploadOne(file, (f) => { bar.value = f; });
      bar.value = 1;
      if (res.imported && res.imported.length) {
        const id = res.imported[0].invoice_id;
        row.dataset.outcome = "imported";
        row.dataset.invoiceId = id;
        await showFields(id, row, cells);
      } else if (res.duplicates && res.duplicates.length) {
        const d = res.duplicates[0].duplicate_of || {};
        row.dataset.outcome = "duplicate";
        row.dataset.status = "duplicate";
        setResult(cells, "tone-bad", L("invoice_status", "duplicate"));
        const parts = ["这张发票已经登记过：" + (d.file || "") + "，" + (d.uploaded_by || "") + " 于 " + fmtTime(d.uploaded_at) + " 上传"];
        if (d.claim_id) parts.push("已在报销单中");
        if (d.posted) parts.push("已入账");
        cells.note.append(el("strong", {class: "warn-text", text: parts.join("；") + "，不能再次报销。"}), " ");
        if (d.invoice_id) cells.note.append(el("a", {href: "/invoices/" + d.invoice_id, text: "查看原记录"}));
        if (d.invoice_id) await showFields(d.invoice_id, row, cells, true);
      } else {
        const r = (res.rejected && res.rejected[0]) || {error: {}};
        row.dataset.outcome = "rejected";
        setResult(cells, "tone-bad", "未接收");
        cells.note.textContent = rejectReason(file.name, r.error || {});
      }
    } catch (e) {
      row.dataset.outcome = "rejected";
      setResult(cells, "tone-bad", "失败");
      cells.note.textContent = readable(e.message) || "上传没有完成（HTTP " + e.status + "），请稍后重试。";
    }
    const next = document.getElementById("upload-next");
    if (next) next.hidden = false;
  }

  function rejectReason(name, error) {
    const text = readable(error.message);
    if (text) return text;
    if (error.code === "unknown_format") return name + " 不是 OFD、PDF 或 XML 格式的电子发票，没有登记。";
    if (error.code === "empty_file") return name + " 是空文件，没有登记。";
    return name + " 无法读取，没有登记。请确认是税务机关开具的电子发票原件。";
  }

  async function showFields(id, row, cells, keepStatus) {
    try {
      const resp = await fetch("/invoices/" + encodeURIComponent(id) + "/summary.json", {credentials: "same-origin", headers: {"Accept": "application/json"}});
      if (!resp.ok) throw new ApiFailure(resp.status, null);
      const inv = await resp.json();
      cells.number.replaceChildren(el("a", {href: "/invoices/" + id, text: inv.number || "（无号码）"}));
      cells.date.textContent = inv.issue_date || "";
      cells.seller.textContent = inv.seller || "";
      cells.total.textContent = inv.total || "";
      if (!keepStatus) {
        row.dataset.status = inv.status;
        setResult(cells, "tone-" + inv.tone, inv.label);
        cells.note.textContent = (inv.reasons || []).join(" ");
        if (inv.claimable) { claimable.push(id); updateClaimLink(); }
      }
    } catch (e) { if (!keepStatus) cells.note.textContent = "已登记，但读取结果失败，请到“我的发票”查看。"; }
  }

  function updateClaimLink() {
    const link = document.getElementById("claim-these");
    if (link) link.href = "/claims/new?invoices=" + encodeURIComponent(claimable.join(","));
  }

  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (ev) => addFiles(ev.dataTransfer.files));
  if (pick) pick.addEventListener("click", () => input.click());
  input.addEventListener("change", () => { addFiles(input.files); input.value = ""; });
}

/* ---- claim builder ---- */
function setupClaimBuilder() {
  const form = document.getElementById("claim-form");
  if (!form) return;
  const totalEl = document.getElementById("claim-total");
  function recompute() {
    let cents = 0;
    form.querySelectorAll("tr[data-invoice-id]").forEach((tr) => {
      if (tr.querySelector(".pick").checked) cents += Math.round(parseFloat((tr.querySelector(".amount").value || "0").replace(/[,¥]/g, "")) * 100) || 0;
    });
    totalEl.textContent = money((cents / 100).toFixed(2));
  }
  const filter = document.getElementById("claim-filter");
  const count = document.getElementById("claim-count");
  function applyFilter() {
    const q = (filter && filter.value || "").trim().toLowerCase();
    let shown = 0;
    form.querySelectorAll("tr[data-invoice-id]").forEach((tr) => {
      const hit = !q || (tr.dataset.search || "").toLowerCase().includes(q) || tr.querySelector(".pick").checked;
      tr.hidden = !hit;
      if (hit) shown += 1;
    });
    if (count) count.textContent = "显示 " + shown + " 张";
  }
  if (filter) filter.addEventListener("input", applyFilter);
  applyFilter();
  recompute();
  form.addEventListener("input", recompute);
  form.addEventListener("change", recompute);
  let submitFlag = "1";
  form.querySelectorAll("button[type=submit]").forEach((b) => b.addEventListener("click", () => { submitFlag = b.dataset.submit; }));
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("claim-error");
    err.hidden = true;
    const lines = [];
    form.querySelectorAll("tr[data-invoice-id]").forEach((tr) => {
      if (!tr.querySelector(".pick").checked) return;
      const line = {invoice_id: tr.dataset.invoiceId, category: tr.querySelector(".category").value};
      const amount = tr.querySelector(".amount").value.trim().replace(/[,¥]/g, "");
      if (amount) line.amount = amount;
      lines.push(line);
    });
    if (!lines.length) { err.textContent = "请至少选择一张发票。"; err.hidden = false; return; }
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    const body = {title: form.title.value.trim(), department: form.department.value.trim() || null,
      purpose: form.purpose.value.trim() || null, lines: lines};
    try {
      let id = form.dataset.claim;
      if (id) {
        if (form.dataset.patch === "1") await api("PATCH", "/claims/" + id, body);
        await api("POST", "/claims/" + id + "/submit", {});
      } else {
        const claim = await api("POST", "/claims", body);
        id = claim.id;
        if (submitFlag === "1") await api("POST", "/claims/" + id + "/submit", {});
      }
      location.href = "/claims/" + id;
    } catch (e) {
      err.textContent = readable(e.message) || "报销单没有保存，请检查所选发票和金额后重试。";
      err.hidden = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

function failMessage(e, what) {
  if (notServed(e)) return "系统暂不支持" + what + "。";
  return readable(e.message) || (what + "没有完成。请刷新页面后重试；如仍不行，请联系系统管理员。");
}

/* ---- claim steps, vouchers, archive, audit ---- */
const STEP_NAMES = {submit: "提交", review: "审核", approve: "批准", reject: "驳回"};

function setupActions() {
  document.querySelectorAll("button[data-step]").forEach((b) => b.addEventListener("click", async () => {
    const box = document.getElementById("step-comment");
    let comment = box ? box.value.trim() : "";
    if (b.dataset.step === "reject") {
      comment = await askReason("驳回报销单");
      if (!comment) return;
    }
    b.disabled = true;
    try {
      await api("POST", "/claims/" + b.dataset.claim + "/" + b.dataset.step, {comment: comment || null});
      location.reload();
    } catch (e) { flash(failMessage(e, STEP_NAMES[b.dataset.step] || "这个操作"), true); b.disabled = false; }
  }));

  const voucherKey = newKey();
  async function makeVoucher(ids, button) {
    button.disabled = true;
    try {
      const v = await api("POST", "/vouchers", {claim_ids: ids}, {"Idempotency-Key": voucherKey});
      location.href = "/vouchers/" + v.id;
    } catch (e) { flash(failMessage(e, "生成凭证"), true); button.disabled = false; }
  }
  document.querySelectorAll("button[data-make-voucher]").forEach((b) => b.addEventListener("click", () => makeVoucher([b.dataset.makeVoucher], b)));
  const mv = document.getElementById("make-voucher");
  if (mv) mv.addEventListener("click", () => {
    const ids = Array.from(document.querySelectorAll(".pick-claim:checked")).map((c) => c.value);
    if (!ids.length) { flash("请先选择报销单。", true); return; }
    makeVoucher(ids, mv);
  });

  const review = document.getElementById("review-voucher");
  if (review) review.addEventListener("click", async () => {
    review.disabled = true;
    try {
      await api("POST", "/vouchers/" + review.dataset.voucher + "/review", {}, {"Idempotency-Key": newKey()});
      location.reload();
    } catch (e) {
      flash(failMessage(e, "凭证审核"), true);
      if (notServed(e)) review.hidden = true; else review.disabled = false;
    }
  });

  const ovr = document.getElementById("override-form");
  if (ovr) ovr.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const err = document.getElementById("override-error");
    const reason = ovr.reason.value.trim();
    if (reason.length < 4) { err.textContent = "请写明放行理由（至少 4 个字）。"; err.hidden = false; return; }
    if (!await confirmDialog("人工放行", ["放行后这张发票不经查验也可以报销；放行人、时间和理由将记录在案，所有人可见。"], "确认放行")) return;
    try {
      await api("POST", "/invoices/" + ovr.dataset.invoice + "/override", {reason: reason});
      location.reload();
    } catch (e) { err.textContent = failMessage(e, "人工放行"); err.hidden = false; }
  });

  const unreview = document.getElementById("unreview-voucher");
  if (unreview) unreview.addEventListener("click", async () => {
    if (!await confirmDialog("取消审核", ["确定取消对这张凭证的审核吗？凭证将回到未审核状态，需重新审核后才能记账。"], "取消审核", true)) return;
    unreview.disabled = true;
    try {
      await api("POST", "/vouchers/" + unreview.dataset.voucher + "/unreview", {}, {"Idempotency-Key": newKey()});
      location.reload();
    } catch (e) { flash(failMessage(e, "取消审核"), true); unreview.disabled = false; }
  });

  const post = document.getElementById("post-voucher");
  if (post) {
    const key = newKey();
    post.addEventListener("click", async () => {
      const deductible = document.getElementById("deductible").checked;
      const ok = await confirmDialog("确认记账", ["凭证 " + post.dataset.number + "，金额 " + post.dataset.total + "，附发票 " + post.dataset.count + " 张。",
        "记账后所附发票将打上入账标识（" + (deductible ? "02 税前扣除" : "03 不扣除") + "），凭证不能再修改，只能红字冲销。"], "确认记账");
      if (!ok) return;
      post.disabled = true;
      try {
        await api("POST", "/vouchers/" + post.dataset.voucher + "/post", {deductible: deductible}, {"Idempotency-Key": key});
        location.reload();
      } catch (e) { flash(failMessage(e, "记账"), true); post.disabled = false; }
    });
  }
  const del = document.getElementById("delete-voucher");
  if (del) del.addEventListener("click", async () => {
    if (!await confirmDialog("删除凭证", ["确定删除未记账凭证 " + del.dataset.number + " 吗？它所关联的报销单将回到“已审批、待生成凭证”。"], "删除", true)) return;
    try {
      await api("DELETE", "/vouchers/" + del.dataset.voucher);
      location.href = "/vouchers";
    } catch (e) { flash(failMessage(e, "删除凭证"), true); if (notServed(e)) del.hidden = true; }
  });
  const edit = document.getElementById("edit-voucher");
  if (edit) {
    const dlg = document.getElementById("voucher-edit-dialog");
    const form = document.getElementById("voucher-edit-form");
    edit.addEventListener("click", () => dlg.showModal());
    document.getElementById("ve-cancel").addEventListener("click", () => dlg.close());
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const err = document.getElementById("ve-error");
      try {
        await api("PATCH", "/vouchers/" + edit.dataset.voucher, {date: form.date.value.trim(), summary: form.summary.value.trim()});
        location.reload();
      } catch (e) { err.textContent = failMessage(e, "修改凭证"); err.hidden = false; }
    });
  }
  const rev = document.getElementById("reverse-voucher");
  if (rev) {
    const key = newKey();
    rev.addEventListener("click", async () => {
      if (!await confirmDialog("红字冲销", ["确定要红字冲销这张凭证吗？所附发票的入账标识将改为“入账撤销”。"], "确认冲销", true)) return;
      rev.disabled = true;
      try {
        const v = await api("POST", "/vouchers/" + rev.dataset.voucher + "/reverse", null, {"Idempotency-Key": key});
        location.href = "/vouchers/" + v.id;
      } catch (e) { flash(failMessage(e, "红字冲销"), true); rev.disabled = false; }
    });
  }

  // 付款回单 (issue 13): confirm, reject or take back a bank receipt of a posted voucher
  document.querySelectorAll("button[data-pay-receipt]").forEach((b) => {
    const key = newKey();
    b.addEventListener("click", async () => {
      if (!await confirmDialog("确认付款回单", ["确认回单 " + b.dataset.number + "（" + b.dataset.total + " 元）是这张凭证的付款？", "确认后它将随凭证一起归档。"], "确认")) return;
      b.disabled = true;
      try {
        await api("POST", "/vouchers/" + b.dataset.voucher + "/payments", {receipt_id: b.dataset.payReceipt}, {"Idempotency-Key": key});
        location.reload();
      } catch (e) { flash(failMessage(e, "确认付款回单"), true); b.disabled = false; }
    });
  });
  document.querySelectorAll("button[data-reject-receipt]").forEach((b) => b.addEventListener("click", async () => {
    b.disabled = true;
    try {
      await api("POST", "/vouchers/" + b.dataset.voucher + "/payment-suggestions/" + encodeURIComponent(b.dataset.rejectReceipt) + "/reject", null, {"Idempotency-Key": newKey()});
      location.reload();
    } catch (e) { flash(failMessage(e, "否决付款回单"), true); b.disabled = false; }
  }));
  document.querySelectorAll("button[data-unpay-receipt]").forEach((b) => b.addEventListener("click", async () => {
    if (!await confirmDialog("取消关联", ["确定取消回单 " + b.dataset.number + " 与这张凭证的关联吗？"], "取消关联", true)) return;
    b.disabled = true;
    try {
      await api("DELETE", "/vouchers/" + b.dataset.voucher + "/payments/" + encodeURIComponent(b.dataset.unpayReceipt), null, {"Idempotency-Key": newKey()});
      location.reload();
    } catch (e) { flash(failMessage(e, "取消关联"), true); b.disabled = false; }
  }));

  async function makePackage(voucherId, button) {
    button.disabled = true;
    const out = document.getElementById("package-result");
    try {
      const p = await api("POST", "/archive/packages", {voucher_id: voucherId});
      const retention = (p.retention && p.retention.code) ? L("retention", p.retention.code) + (p.retention.until ? "（至 " + p.retention.until + "）" : "") : "";
      out.replaceChildren(el("p", {text: "已生成档案包，档号 " + (p.archival_code || "") + "，保管期限 " + retention + "。"}));
      if (p.check) out.append(renderReport(p.check));
      const row = button.closest("tr");
      if (row) row.remove();
      else button.hidden = true;
    } catch (e) { flash(failMessage(e, "归档"), true); button.disabled = false; }
  }
  const pkg = document.getElementById("package-voucher");
  if (pkg) pkg.addEventListener("click", () => makePackage(pkg.dataset.voucher, pkg));
  document.querySelectorAll("button[data-package]").forEach((b) => b.addEventListener("click", () => makePackage(b.dataset.package, b)));

  document.querySelectorAll("button[data-check]").forEach((b) => b.addEventListener("click", async () => {
    b.disabled = true;
    const out = document.getElementById("check-report");
    out.replaceChildren(el("span", {class: "badge running", text: "正在检测 " + b.dataset.code + "……"}));
    try {
      const report = await api("GET", "/archive/packages/" + encodeURIComponent(b.dataset.check) + "/check");
      out.replaceChildren(el("h3", {text: "档案包 " + b.dataset.code}), renderReport(report));
      const cell = b.closest("tr").querySelector(".check-cell");
      if (cell) cell.replaceChildren(el("span", {class: "badge r-" + report.status, text: report.status === "pass" ? "通过" : "未通过"}), el("br"), el("small", {class: "nowrap", text: fmtTime(report.at || new Date().toISOString())}));
      out.scrollIntoView({block: "nearest"});
    } catch (e) { flash(failMessage(e, "四性检测"), true); }
    b.disabled = false;
  }));

  const exportForm = document.getElementById("export-form");
  if (exportForm) exportForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = document.getElementById("export-status");
    const bar = document.getElementById("export-bar");
    const btn = exportForm.querySelector("button");
    btn.disabled = true;
    const started = Date.now();
    try {
      let job = await api("POST", "/archive/exports", {year: parseInt(exportForm.year.value, 10)});
      bar.hidden = false;
      bar.removeAttribute("value");
      while (job.status === "running") {
        const secs = Math.round((Date.now() - started) / 1000);
        const prog = job.progress || {};
        let text = "正在导出 " + job.year + " 年：已用 " + secs + " 秒";
        if (prog.total) { text += "，已完成 " + (prog.done || 0) + " / " + prog.total; bar.max = prog.total; bar.value = prog.done || 0; }
        else if (job.package_count) text += "，共 " + job.package_count + " 件档案包";
        status.textContent = text + "……";
        await new Promise((r) => setTimeout(r, 1000));
        job = await api("GET", "/archive/exports/" + job.id);
      }
      bar.hidden = true;
      const counts = job.package_count !== null && job.package_count !== undefined ? "共 " + job.package_count + " 件档案包" + (job.total_size ? "，" + (job.total_size / 1048576).toFixed(1) + " MB" : "") + "。" : "";
      status.replaceChildren(el("span", {class: "badge " + (job.status === "done" ? "done" : "failed"), text: L("export_status", job.status)}),
        " " + counts + (job.status !== "done" ? (readable(job.error) || "请查看下方检测报告中未通过的项目。") : ""));
      if (job.status === "done") {
        const dl = document.getElementById("export-download");
        dl.querySelector("a").href = "/api/v1/archive/exports/" + job.id + "/download";
        dl.hidden = false;
      }
      if (job.check) document.getElementById("check-report").replaceChildren(renderReport(job.check));
    } catch (e) { bar.hidden = true; status.textContent = ""; flash(failMessage(e, "导出"), true); }
    btn.disabled = false;
  });

  const av = document.getElementById("audit-verify");
  if (av) av.addEventListener("click", async () => {
    const out = document.getElementById("audit-result");
    try {
      const r = await api("GET", "/audit/verify");
      if (r.ok) out.replaceChildren(el("span", {class: "badge done", text: "日志链完整"}), " 共 " + r.entries + " 条");
      else out.replaceChildren(el("span", {class: "badge failed", text: "日志链被破坏"}),
        " 从第 " + r.first_broken.seq + " 条起记录被改动过，请立即报告系统管理员。");
    } catch (e) { flash(failMessage(e, "校验"), true); }
  });
}

/* ---- 在线查验 on the invoice page ---- */
const ONLINE = {not_checked: "未查验", success: "查验一致", not_found: "查无此票", mismatch: "信息不符",
  voided: "已作废", red_reversed: "已红冲", same_day: "当日发票次日可查", too_old: "超过五年",
  rate_limited: "今日查验次数已用完", error: "查验服务出错"};

function onlineBadge(status) {
  return el("span", {class: "badge oc-" + status, text: L("online_status", status)});
}

function setupOnlineCheck() {
  const b = document.getElementById("online-check");
  if (!b) return;
  b.addEventListener("click", async () => {
    const out = document.getElementById("online-check-result");
    b.disabled = true;
    out.replaceChildren(el("span", {class: "badge running", text: "正在查验……"}));
    try {
      const r = await api("POST", "/invoices/" + b.dataset.invoice + "/online-check");
      out.replaceChildren(el("p", {}, ["本次查验结果：", onlineBadge(r.status), " " + readable(r.message)]));
      const badge = document.getElementById("online-check-status");
      const stored = r.online_check_status || r.status;
      badge.className = "badge oc-" + stored;
      badge.dataset.status = stored;
      badge.textContent = L("online_status", stored);
      const tbody = document.querySelector("#online-checks tbody");
      const none = tbody.querySelector("tr.none");
      if (none) none.remove();
      if (r.status !== "not_checked") {
        const who = document.getElementById("who");
        tbody.append(el("tr", {}, [el("td", {class: "nowrap", text: fmtTime(r.checked_at || new Date().toISOString())}),
          el("td", {text: who ? who.dataset.username : ""}), el("td", {}, [onlineBadge(r.status)]),
          el("td", {text: readable(r.message)})]));
      }
    } catch (e) {
      out.replaceChildren();
      flash(failMessage(e, "在线查验"), true);
    }
    b.disabled = false;
  });
}

/* ---- voucher import from Excel, journal export ---- */
/* The server explains each refused cell in English; the common reasons read in Chinese here
 * (the server's wording stays in the cell's tooltip). Unknown reasons are shown as sent. */
const IMPORT_REASONS = [
  [/^voucher (.+) has only one line; it needs at least two$/, "凭证 $1 只有一行，至少需要借、贷两行"],
  [/^account '(.+)' is not in the chart of accounts$/, "科目编码 $1 不在会计科目表中"],
  [/^voucher (.+): debits (\S+) do not equal credits (\S+) \(rows (.+)\)$/, "凭证 $1 借贷不平：借方 $2，贷方 $3（第 $4 行）"],
  [/^'(.*)' is not a date YYYY-MM-DD$/, "“$1”不是日期，请写成 年-月-日（如 2025-11-20）"],
  [/^'(.*)' is not a number$/, "“$1”不是数字"],
  [/^(\S+) has more than two decimals$/, "$1 超过两位小数"],
  [/^the voucher reference is missing$/, "缺少凭证号"],
  [/^the date is missing$/, "缺少日期"],
  [/^the account code is missing$/, "缺少科目编码"],
];

function importReason(message) {
  for (const [re, zh] of IMPORT_REASONS) if (re.test(message)) return message.replace(re, zh);
  return message;
}

function setupVoucherImport() {
  const form = document.getElementById("import-form");
  if (!form) return;
  const out = document.getElementById("import-result");
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const file = form.file.files[0];
    if (!file) return;
    const btn = form.querySelector("button");
    btn.disabled = true;
    out.replaceChildren(el("span", {class: "badge running", text: "正在导入……"}));
    const fd = new FormData();
    fd.append("file", file, file.name);
    try {
      const resp = await fetch("/api/v1/vouchers/import", {method: "POST", body: fd, credentials: "same-origin",
        headers: {"Accept": "application/json", "X-CSRF-Token": csrfToken(), "Idempotency-Key": newKey()}});
      let body = null;
      try { body = await resp.json(); } catch (e) { body = null; }
      if (!resp.ok) throw new ApiFailure(resp.status, body);
      const list = el("ul", {}, (body.items || []).map((v) => el("li", {}, [el("a", {href: "/vouchers/" + v.id, text: v.number}), " " + (v.date || "") + " " + (v.summary || "")])));
      out.replaceChildren(el("p", {}, [el("span", {class: "badge done", text: "导入成功"}), " 共导入 " + body.total + " 张凭证（未记账，请逐张核对后记账）。"]), list);
    } catch (e) {
      const errors = (e.details && e.details.errors) || [];
      if (!errors.length) {
        out.replaceChildren(el("p", {class: "error", text: "没有导入：" + (readable(e.message) || "文件无法读取，请确认是 Excel（.xlsx）文件。")}));
      } else {
        const tbody = el("tbody", {}, errors.map((x) => el("tr", {}, [el("td", {text: "第 " + x.row + " 行"}),
          el("td", {text: x.column + " 列"}), el("td", {text: x.header || ""}),
          el("td", {text: importReason(x.message || ""), title: x.message || ""})])));
        out.replaceChildren(el("p", {class: "error", text: "表格中有 " + errors.length + " 处错误，一张凭证也没有导入。请在 Excel 中改正下列单元格后重新导入："}),
          el("table", {class: "grid small", id: "import-errors"}, [el("thead", {}, [el("tr", {}, [el("th", {text: "行"}), el("th", {text: "列"}), el("th", {text: "表头"}), el("th", {text: "问题"})])]), tbody]));
      }
    }
    btn.disabled = false;
    form.reset();
  });
  const period = document.getElementById("export-period");
  const link = document.getElementById("export-journal");
  if (period && link) period.addEventListener("change", () => {
    link.href = "/api/v1/vouchers/export.xlsx?period=" + encodeURIComponent(period.value);
  });
}

function renderReport(report) {
  const wrap = el("div", {class: "report"});
  const items = report.items || [];
  const count = (r) => items.filter((it) => it.result === r).length;
  const parts = [["pass", "通过"], ["fail", "未通过"], ["not_applicable", "不适用"], ["not_run", "未执行"]]
    .filter(([r]) => count(r)).map(([r, t]) => t + " " + count(r) + " 项");
  wrap.append(el("p", {}, [el("span", {class: "badge " + (report.status === "pass" ? "done" : "failed"),
    text: report.status === "pass" ? "四性检测通过" : "四性检测未通过"}), " 共 " + items.length + " 项：" + parts.join("，") + "。"]));
  const tbody = el("tbody");
  items.forEach((it) => {
    const ev = typeof it.evidence === "string" ? readable(it.evidence) : "";
    tbody.append(el("tr", {}, [el("td", {text: L("check_property", it.property)}), el("td", {text: L("check", it.id) !== it.id ? L("check", it.id) : (readable(it.name) || it.id)}),
      el("td", {}, [el("span", {class: "badge r-" + it.result, text: L("check_result", it.result)})]), el("td", {text: ev})]));
  });
  wrap.append(el("div", {class: "table-wrap"}, [el("table", {class: "grid small"}, [el("thead", {}, [el("tr", {}, [el("th", {text: "属性"}), el("th", {text: "检测项"}), el("th", {text: "结果"}), el("th", {text: "说明"})])]), tbody])]));
  setTimeout(() => { if (window.fmMarkScrollBoxes) window.fmMarkScrollBoxes(); }, 0);
  return wrap;
}

/* A table wider than the screen scrolls in its own box; the box takes keyboard focus so the
 * arrow keys can scroll it (WCAG: scrollable regions must be reachable). */
function setupScrollBoxes() {
  function mark() {
    document.querySelectorAll(".table-wrap, .cards-on-phone").forEach((box) => {
      if (box.scrollWidth > box.clientWidth + 1) {
        box.setAttribute("tabindex", "0");
        box.setAttribute("role", "region");
        const table = box.querySelector("table");
        const head = box.closest("section, main").querySelector("h1, h2, h3");
        box.setAttribute("aria-label", (head ? head.textContent.trim() + " " : "") + "表格（可左右滚动）");
        if (table) box.classList.add("scrolls");
      } else if (box.getAttribute("role") === "region") {
        box.removeAttribute("tabindex");
        box.removeAttribute("role");
        box.removeAttribute("aria-label");
      }
    });
  }
  mark();
  window.addEventListener("resize", mark);
  window.fmMarkScrollBoxes = mark;
}

function setupMenu() {
  const b = document.getElementById("menu-toggle");
  const nav = document.getElementById("main-nav");
  if (!b || !nav) return;
  b.addEventListener("click", () => {
    const open = b.getAttribute("aria-expanded") !== "true";
    b.setAttribute("aria-expanded", open ? "true" : "false");
    nav.classList.toggle("open", open);
  });
}

document.addEventListener("DOMContentLoaded", () => {
  setupMenu();
  setupScrollBoxes();
  setupLogin();
  setupLogout();
  setupUpload();
  setupClaimBuilder();
  setupActions();
  setupOnlineCheck();
  setupVoucherImport();
  document.documentElement.dataset.ready = "1";  // the page's controls are wired
});
