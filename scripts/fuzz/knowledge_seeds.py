"""Small, valid knowledge files for the fuzzer, one per vector form (f32, f16, int8), written
by `tinylm index` with all-MiniLM-L6-v2 from three short documents (text, Markdown with
headings, HTML with a title), small chunks so that there are several per document.
Deterministic given the embedder: the same files every run.
"""

import os
import subprocess
import tempfile

DOCUMENTS = {
    'hours.html': '<title>Opening hours</title><h1>Opening hours</h1><p>Monday to Friday 7:00–18:00.</p>'
                  '<p>Saturday 8:00–14:00. Closed on Sundays and on public holidays.</p>',
    'prices.md': '# Prices\n\n## Bread\n\nA sourdough loaf costs 4.50 euros; rye 5 euros.\n\n## Cakes\n\n'
                 'A birthday cake for 12 people costs 38 euros. Order two days ahead. ü 😀\n',
    'allergens.txt': 'Every bread contains gluten. Almond croissants contain nuts. '
                     'The seeded loaf holds sesame. Ask us about anything else you cannot eat.',
}
FORMS = ['f32', 'f16', 'int8']


def ensure(directory, cli, embedder):
    """Writes the files into `directory` (once) and returns their paths (f32, f16, int8)."""
    os.makedirs(directory, exist_ok=True)
    paths = [os.path.join(directory, f'knowledge-{form}.tlkb') for form in FORMS]
    if all(os.path.exists(p) for p in paths):
        return paths
    with tempfile.TemporaryDirectory(prefix='tinylm-fuzz-docs-') as docs:
        for name, text in DOCUMENTS.items():
            with open(os.path.join(docs, name), 'w', encoding='utf-8') as f:
                f.write(text)
        for form, path in zip(FORMS, paths):
            subprocess.run([cli, 'index', docs, '--embedder', embedder, '--vectors', form, '--chunk-tokens', '24',
                            '--overlap', '6', '--threads', '1', '--quiet', '--out', path + '.tmp'], check=True, capture_output=True)
            os.replace(path + '.tmp', path)
    return paths
