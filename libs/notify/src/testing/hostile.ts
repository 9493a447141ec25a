// Justifications a requester could write to abuse a notification: broadcast mentions, user
// mentions, disguised links, markdown, and text far over every platform's limit.
export const HOSTILE_JUSTIFICATIONS: Readonly<Record<string, string>> = {
  mentions: 'hotfix <!here> <!channel> <!everyone> @channel @here @everyone ping <@U024BE7LH> and <!subteam^SAZ94GDB8>',
  links: 'see <https://evil.example/phish|the runbook> and [the runbook](https://evil.example/phish) & <mailto:x@evil.example|mail>',
  markdown: '**urgent** _now_ ~strike~ `code` ```block``` # Heading\n> quote\n- item\n1. one\n<at>Everyone</at> <script>alert(1)</script> &amp; &lt;',
  long: 'A'.repeat(10) + ' <!here> '.repeat(2) + 'x'.repeat(50 * 1024),
};
