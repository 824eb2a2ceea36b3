// Live countdowns and colours. The server's clock is the reference: the page carries
// the server's "now" and each deadline in UTC, so a wrong clock on this computer does
// not change what is shown. Two more conveniences, neither needed to use the pages: the
// "copy" buttons beside a read-only address (hidden without this script), and an empty
// date-time picker that starts at now in the workflow's zone when first focused.
(function () {
  "use strict";
  var words = {
    fr: { overdue: "dépassée de", left: "restant", d: "j", h: "h", m: "min", s: "s" },
    en: { overdue: "overdue by", left: "left", d: "d", h: "h", m: "min", s: "s" },
    nl: { overdue: "te laat met", left: "resterend", d: "d", h: "u", m: "min", s: "s" }
  };
  var body = document.body;
  var w = words[body.getAttribute("data-lang")] || words.fr;
  var skew = Date.parse(body.getAttribute("data-now")) - Date.now();
  if (isNaN(skew)) { skew = 0; }
  var DAY = 86400000;
  function span(ms) {
    var s = Math.floor(ms / 1000), d = Math.floor(s / 86400);
    var h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    if (d > 0) { return d + " " + w.d + " " + h + " " + w.h + " " + m + " " + w.m; }
    if (h > 0) { return h + " " + w.h + " " + m + " " + w.m + " " + r + " " + w.s; }
    return m + " " + w.m + " " + r + " " + w.s;
  }
  function tick() {
    var now = Date.now() + skew;
    var els = document.querySelectorAll("[data-due][data-open]");
    for (var i = 0; i < els.length; i++) {
      var el = els[i], left = Date.parse(el.getAttribute("data-due")) - now;
      var cls = left < 0 ? "st-overdue" : left < DAY ? "st-soon" : "st-pending";
      el.classList.remove("st-overdue", "st-soon", "st-pending");
      el.classList.add(cls);
      if (el.classList.contains("countdown")) {
        el.textContent = left < 0 ? w.overdue + " " + span(-left) : span(left) + " " + w.left;
      }
    }
  }
  tick();
  setInterval(tick, 1000);
  var copies = document.querySelectorAll("button[data-copy]");
  for (var j = 0; j < copies.length; j++) {
    copies[j].hidden = false;
    copies[j].addEventListener("click", function (ev) {
      var b = ev.currentTarget, input = document.getElementById(b.getAttribute("data-copy"));
      if (!input) { return; }
      input.select();
      var done = function () { b.textContent = b.getAttribute("data-copied") || b.textContent; };
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(input.value).then(done, function () {
          if (document.execCommand("copy")) { done(); }
        });
      } else if (document.execCommand("copy")) {
        done();
      }
    });
  }
  // A date-time picker left empty starts at now, in the workflow's zone (the zone its
  // value is read in), when the user first goes to it: an unanswered date stays unset.
  function nowIn(zone) {
    try {
      return new Intl.DateTimeFormat("sv-SE", {
        timeZone: zone, year: "numeric", month: "2-digit", day: "2-digit",
        hour: "2-digit", minute: "2-digit", hourCycle: "h23"
      }).format(new Date(Date.now() + skew)).replace(" ", "T");
    } catch (e) { return ""; }
  }
  document.addEventListener("focusin", function (ev) {
    var el = ev.target;
    if (el && el.type === "datetime-local" && !el.value && el.getAttribute("data-zone")) {
      el.value = nowIn(el.getAttribute("data-zone"));
    }
  });
})();
