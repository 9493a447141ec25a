import { describe, expect, it } from 'vitest';
import { html } from './html';

describe('html templates escape every value', () => {
  it('renders markup, quotes and entities in a value as text', () => {
    const hostile = `<script>alert(1)</script><img src=x onerror="alert('2')"> &amp;`;
    expect(html`<td title="${hostile}">${hostile}</td>`.value).toBe(
      '<td title="&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;2&#39;)&quot;&gt; &amp;amp;">&lt;script&gt;alert(1)&lt;/script&gt;&lt;img src=x onerror=&quot;alert(&#39;2&#39;)&quot;&gt; &amp;amp;</td>',
    );
  });

  it('keeps nested templates and lists of them, drops undefined, null and false', () => {
    const items = ['<a>', 'b'].map((x) => html`<li>${x}</li>`);
    expect(html`<ul>${items}</ul>${undefined}${null}${false}${0}`.value).toBe('<ul><li>&lt;a&gt;</li><li>b</li></ul>0');
  });
});
