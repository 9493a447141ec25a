// The dashboard's only script (served from /ui/assets, allowed by the CSP as 'self'; no inline
// script anywhere): live countdowns of grants and a periodic refresh of pages that ask for one.
'use strict';
(function () {
  function left(ms) {
    if (ms <= 0) return 'expired';
    var s = Math.floor(ms / 1000);
    var h = Math.floor(s / 3600);
    var m = Math.floor((s % 3600) / 60);
    var r = s % 60;
    var pad = function (n) {
      return (n < 10 ? '0' : '') + n;
    };
    // the same text the server renders first (libs/dashboard/src/pages/live-page.ts, countdownText)
    return (h > 0 ? h + 'h ' + pad(m) + 'm ' : m > 0 ? m + 'm ' : '') + (h > 0 || m > 0 ? pad(r) : r) + 's left';
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll('[data-countdown]').forEach(function (el) {
      var until = Date.parse(el.getAttribute('data-countdown'));
      if (isNaN(until)) return;
      var text = left(until - now);
      if (el.textContent !== text) el.textContent = text;
      if (until <= now) el.classList.add('expired');
    });
  }
  document.addEventListener('DOMContentLoaded', function () {
    tick();
    setInterval(tick, 1000);
    var main = document.querySelector('[data-refresh-seconds]');
    var every = main ? Number(main.getAttribute('data-refresh-seconds')) : 0;
    if (every > 0)
      setTimeout(function () {
        location.reload();
      }, every * 1000);
  });
})();
