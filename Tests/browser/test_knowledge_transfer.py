"""A knowledge base (web/knowledge-base.js) moves between browser profiles as one file: what
export() writes in one profile, import() in a fresh one (another IndexedDB) searches the same,
score for score, and keeps it across a reload."""

import base64

from conftest import BAKERY_DOCUMENTS as DOCUMENTS, Browser

QUERIES = ['Are you open on Saturday?', 'How much is a birthday cake?', 'Is there gluten in the bread?']
SEARCH = """
    const results = [];
    for (const query of args[1]) results.push(await kb.search(query, { k: 3 }));
"""
OPEN = """
    const { TinyLM } = await import('/tinylm.js');
    const { KnowledgeBase } = await import('/knowledge-base.js');
    const embedder = await TinyLM.loadEmbedder('/models/all-MiniLM-L6-v2.gguf');
    const kb = await KnowledgeBase.open(args[2], { embedder });
"""


def test_export_then_import_in_a_fresh_profile_searches_the_same(server, browser, engine):
    browser.get(f'{server.url}/')
    exported = browser.run(OPEN + """
        await kb.add(args[0]);
    """ + SEARCH + """
        const bytes = await kb.export();
        let binary = '';
        for (const byte of bytes) binary += String.fromCharCode(byte);
        return { results, file: btoa(binary) };
    """, DOCUMENTS, QUERIES, 'notes')
    assert [hits[0]['documentId'] for hits in exported['results']] == ['/hours.html', '/prices.md', 'Allergens'], exported['results']
    assert len(base64.b64decode(exported['file'])) > 0

    fresh = Browser(engine)  # another profile: its own IndexedDB, nothing stored
    try:
        fresh.get(f'{server.url}/')
        assert fresh.run("return (await (await import('/tinylm.js')).modelStore.list()).length;") == 0
        imported = fresh.run(OPEN + """
            const bytes = Uint8Array.from(atob(args[0]), (c) => c.charCodeAt(0));
            const added = await kb.import(bytes);
        """ + SEARCH + """
            return { results, added: added.map((d) => d.id) };
        """, exported['file'], QUERIES, 'imported')
        assert imported['added'] == ['/hours.html', '/prices.md', 'Allergens']
        assert imported['results'] == exported['results']

        fresh.get(f'{server.url}/')  # kept in IndexedDB: the same after a reload
        reloaded = fresh.run(OPEN + SEARCH + 'return { results, documents: kb.documents.map((d) => d.id) };', None, QUERIES, 'imported')
        assert reloaded['documents'] == ['/hours.html', '/prices.md', 'Allergens']
        assert reloaded['results'] == exported['results']
    finally:
        fresh.quit()
