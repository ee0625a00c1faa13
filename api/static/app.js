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

const VERIFY = {valid: "签名有效", invalid: "签名无效", unsigned: "无电子签名", indeterminate: "无法本地验证"};
const RESULT = {pass: "通过", fail: "未通过", not_applicable: "不适用", not_run: "未执行", warn: "注意"};
const PROPERTY = {authenticity: "真实性", integrity: "完整性", usability: "可用性", security: "安全性"};

function fmtTime(iso) { return iso ? iso.slice(0, 16).replace("T", " ") : ""; }

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
      err.textContent = e.code === "bad_credentials" ? "用户名或密码不正确。" : e.message;
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
  const table = document.getElementById("upload-results");
  const tbody = table.querySelector("tbody");
  const max = parseInt(drop.dataset.max, 10);
  let queue = Promise.resolve();

  function addFiles(files) {
    table.hidden = false;
    Array.from(files).forEach((file) => {
      const cells = {};
      const names = ["file", "progress", "result", "number", "date", "seller", "total", "sig", "note"];
      const row = el("tr", {"data-file": file.name});
      names.forEach((n) => { cells[n] = el("td", n === "total" ? {class: "num"} : {}); row.append(cells[n]); });
      cells.file.textContent = file.name;
      const bar = el("progress", {max: "1", value: "0"});
      cells.progress.append(bar);
      cells.result.append(el("span", {class: "badge", text: "等待上传"}));
      tbody.append(row);
      queue = queue.then(() => handle(file, row, cells, bar));
    });
  }

  function setResult(cells, cls, text) {
    cells.result.replaceChildren(el("span", {class: "badge " + cls, text: text}));
  }

  async function handle(file, row, cells, bar) {
    if (file.size > max) {
      setResult(cells, "rejected", "未接收");
      cells.note.textContent = "文件太大（" + (file.size / 1048576).toFixed(1) + " MB），上限 " + (max / 1048576).toFixed(1) + " MB";
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
        setResult(cells, "done", "已登记");
        await showFields(id, cells);
      } else if (res.duplicates && res.duplicates.length) {
        const d = res.duplicates[0].duplicate_of || {};
        row.dataset.outcome = "duplicate";
        setResult(cells, "rejected", "重复发票");
        const parts = ["这张发票已经登记过：" + (d.file || "") + "，" + (d.uploaded_by || "") + " 于 " + fmtTime(d.uploaded_at) + " 上传"];
        if (d.claim_id) parts.push("已在报销单 " + d.claim_id.slice(0, 8) + " 中");
        if (d.posted) parts.push("已入账");
        cells.note.append(el("strong", {class: "warn-text", text: parts.join("；") + "。"}), " ");
        if (d.invoice_id) cells.note.append(el("a", {href: "/invoices/" + d.invoice_id, text: "查看原记录"}));
        if (d.invoice_id) await showFields(d.invoice_id, cells, true);
      } else {
        const r = (res.rejected && res.rejected[0]) || {error: {message: "未知原因"}};
        row.dataset.outcome = "rejected";
        setResult(cells, "rejected", "未接收");
        cells.note.textContent = (r.error && r.error.message) || "无法读取";
      }
    } catch (e) {
      row.dataset.outcome = "rejected";
      setResult(cells, "rejected", "失败");
      cells.note.textContent = e.message;
    }
    const next = document.getElementById("upload-next");
    if (next) next.hidden = false;
  }

  async function showFields(id, cells, keepNote) {
    try {
      const inv = await api("GET", "/invoices/" + id);
      cells.number.replaceChildren(el("a", {href: "/invoices/" + id, text: inv.number || "（无号码）"}));
      cells.date.textContent = inv.issue_date || "";
      cells.seller.textContent = (inv.seller && inv.seller.name) || "";
      cells.total.textContent = inv.total || "";
      cells.sig.replaceChildren(el("span", {class: "badge v-" + inv.verification_status, text: VERIFY[inv.verification_status] || inv.verification_status}));
      if (!keepNote) {
        const problems = (inv.verification && inv.verification.problems) || [];
        if (inv.status === "invalid") cells.note.textContent = "验证未通过：" + problems.join("；");
        else if (problems.length) cells.note.textContent = problems.join("；");
      }
    } catch (e) { cells.note.textContent = e.message; }
  }

  ["dragenter", "dragover"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.add("over"); }));
  ["dragleave", "drop"].forEach((t) => drop.addEventListener(t, (ev) => { ev.preventDefault(); drop.classList.remove("over"); }));
  drop.addEventListener("drop", (ev) => addFiles(ev.dataTransfer.files));
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
      if (tr.querySelector(".pick").checked) cents += Math.round(parseFloat(tr.querySelector(".amount").value || "0") * 100);
    });
    totalEl.textContent = (cents / 100).toFixed(2);
  }
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
      const amount = tr.querySelector(".amount").value.trim();
      if (amount) line.amount = amount;
      lines.push(line);
    });
    if (!lines.length) { err.textContent = "请至少选择一张发票。"; err.hidden = false; return; }
    const buttons = form.querySelectorAll("button");
    buttons.forEach((b) => { b.disabled = true; });
    try {
      const claim = await api("POST", "/claims", {title: form.title.value.trim(), department: form.department.value.trim() || null,
        purpose: form.purpose.value.trim() || null, lines: lines});
      if (submitFlag === "1") await api("POST", "/claims/" + claim.id + "/submit", {});
      location.href = "/claims/" + claim.id;
    } catch (e) {
      err.textContent = e.message;
      err.hidden = false;
      buttons.forEach((b) => { b.disabled = false; });
    }
  });
}

/* ---- claim steps, vouchers, archive, audit ---- */
function setupActions() {
  document.querySelectorAll("button[data-step]").forEach((b) => b.addEventListener("click", async () => {
    const box = document.getElementById("step-comment");
    let comment = box ? box.value.trim() : "";
    if (b.dataset.step === "reject" && !comment) {
      comment = (prompt("请填写驳回原因：") || "").trim();
      if (!comment) return;
    }
    b.disabled = true;
    try {
      await api("POST", "/claims/" + b.dataset.claim + "/" + b.dataset.step, {comment: comment || null});
      location.reload();
    } catch (e) { flash(e.message, true); b.disabled = false; }
  }));

  const voucherKey = newKey();
  async function makeVoucher(ids, button) {
    button.disabled = true;
    try {
      const v = await api("POST", "/vouchers", {claim_ids: ids}, {"Idempotency-Key": voucherKey});
      location.href = "/vouchers/" + v.id;
    } catch (e) { flash(e.message, true); button.disabled = false; }
  }
  document.querySelectorAll("button[data-make-voucher]").forEach((b) => b.addEventListener("click", () => makeVoucher([b.dataset.makeVoucher], b)));
  const mv = document.getElementById("make-voucher");
  if (mv) mv.addEventListener("click", () => {
    const ids = Array.from(document.querySelectorAll(".pick-claim:checked")).map((c) => c.value);
    if (!ids.length) { flash("请先选择报销单。", true); return; }
    makeVoucher(ids, mv);
  });

  const post = document.getElementById("post-voucher");
  if (post) {
    const key = newKey();
    post.addEventListener("click", async () => {
      post.disabled = true;
      try {
        await api("POST", "/vouchers/" + post.dataset.voucher + "/post", {deductible: document.getElementById("deductible").checked}, {"Idempotency-Key": key});
        location.reload();
      } catch (e) { flash(e.message, true); post.disabled = false; }
    });
  }
  const rev = document.getElementById("reverse-voucher");
  if (rev) {
    const key = newKey();
    rev.addEventListener("click", async () => {
      if (!confirm("确定要红字冲销这张凭证吗？所附发票的入账标识将改为“入账撤销”。")) return;
      rev.disabled = true;
      try {
        const v = await api("POST", "/vouchers/" + rev.dataset.voucher + "/reverse", null, {"Idempotency-Key": key});
        location.href = "/vouchers/" + v.id;
      } catch (e) { flash(e.message, true); rev.disabled = false; }
    });
  }
  const pkg = document.getElementById("package-voucher");
  if (pkg) pkg.addEventListener("click", async () => {
    pkg.disabled = true;
    const out = document.getElementById("package-result");
    try {
      const p = await api("POST", "/archive/packages", {voucher_id: pkg.dataset.voucher});
      out.replaceChildren(el("p", {text: "已生成档案包，档号 " + (p.archival_code || "") + "，保管期限 " + (p.retention || "") + "，编号 " + p.id}));
      if (p.check) out.append(renderReport(p.check));
    } catch (e) { flash(e.message, true); pkg.disabled = false; }
  });

  const exportForm = document.getElementById("export-form");
  if (exportForm) exportForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const status = document.getElementById("export-status");
    const btn = exportForm.querySelector("button");
    btn.disabled = true;
    try {
      let job = await api("POST", "/archive/exports", {year: parseInt(exportForm.year.value, 10)});
      status.textContent = "正在导出……";
      while (job.status === "running") {
        await new Promise((r) => setTimeout(r, 1000));
        job = await api("GET", "/archive/exports/" + job.id);
      }
      status.replaceChildren(el("span", {class: "badge " + job.status, text: job.status === "done" ? "导出完成" : "导出失败"}),
        " " + (job.error || job.message || ""));
      if (job.status === "done") {
        const dl = document.getElementById("export-download");
        dl.querySelector("a").href = "/api/v1/archive/exports/" + job.id + "/download";
        dl.hidden = false;
      }
      if (job.check) document.getElementById("check-report").replaceChildren(renderReport(job.check));
    } catch (e) { flash(e.message, true); }
    btn.disabled = false;
  });

  const checkForm = document.getElementById("check-form");
  if (checkForm) checkForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const report = await api("GET", "/archive/packages/" + encodeURIComponent(checkForm.package_id.value.trim()) + "/check");
      document.getElementById("check-report").replaceChildren(renderReport(report));
    } catch (e) { flash(e.message, true); }
  });

  const av = document.getElementById("audit-verify");
  if (av) av.addEventListener("click", async () => {
    const out = document.getElementById("audit-result");
    try {
      const r = await api("GET", "/audit/verify");
      if (r.ok) out.replaceChildren(el("span", {class: "badge done", text: "日志链完整"}), " 共 " + r.entries + " 条");
      else out.replaceChildren(el("span", {class: "badge failed", text: "日志链被破坏"}),
        " 第 " + r.first_broken.seq + " 条（" + r.first_broken.action + "）：" + r.first_broken.reason);
    } catch (e) { flash(e.message, true); }
  });
}

/* ---- 在线查验 on the invoice page ---- */
const ONLINE = {not_checked: "未查验", success: "查验一致", not_found: "查无此票", mismatch: "信息不符",
  voided: "已作废", red_reversed: "已红冲", same_day: "当日发票次日可查", too_old: "超过五年",
  rate_limited: "今日查验次数已用完", error: "查验服务出错"};

function onlineBadge(status) {
  return el("span", {class: "badge oc-" + status, text: ONLINE[status] || status});
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
      out.replaceChildren(el("p", {}, ["本次查验结果：", onlineBadge(r.status), " " + (r.message || "")]));
      const badge = document.getElementById("online-check-status");
      const stored = r.online_check_status || r.status;
      badge.className = "badge oc-" + stored;
      badge.dataset.status = stored;
      badge.textContent = ONLINE[stored] || stored;
      const tbody = document.querySelector("#online-checks tbody");
      const none = tbody.querySelector("tr.none");
      if (none) none.remove();
      if (r.status !== "not_checked") {
        const who = document.getElementById("who");
        tbody.append(el("tr", {}, [el("td", {text: (r.checked_at || new Date().toISOString()).slice(0, 19).replace("T", " ")}),
          el("td", {text: who ? who.textContent.replace(/（.*$/, "") : ""}), el("td", {}, [onlineBadge(r.status)]),
          el("td", {text: r.message || ""})]));
      }
    } catch (e) {
      out.replaceChildren();
      flash(e.message, true);
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
        out.replaceChildren(el("p", {class: "error", text: "没有导入：" + e.message}));
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
  wrap.append(el("p", {}, [el("span", {class: "badge " + (report.status === "pass" ? "done" : "failed"),
    text: report.status === "pass" ? "四性检测通过" : "四性检测未通过"})]));
  const tbody = el("tbody");
  (report.items || []).forEach((it) => {
    const ev = typeof it.evidence === "string" ? it.evidence : JSON.stringify(it.evidence || "");
    tbody.append(el("tr", {}, [el("td", {text: PROPERTY[it.property] || it.property}), el("td", {text: it.name || it.id}),
      el("td", {}, [el("span", {class: "badge r-" + it.result, text: RESULT[it.result] || it.result})]), el("td", {text: ev})]));
  });
  wrap.append(el("table", {class: "grid small"}, [el("thead", {}, [el("tr", {}, [el("th", {text: "属性"}), el("th", {text: "检测项"}), el("th", {text: "结果"}), el("th", {text: "依据"})])]), tbody]));
  return wrap;
}

document.addEventListener("DOMContentLoaded", () => {
  setupLogin();
  setupLogout();
  setupUpload();
  setupClaimBuilder();
  setupActions();
  setupOnlineCheck();
  setupVoucherImport();
});
