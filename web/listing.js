// The paged listing (GET /auctions?cursor=…): read up to `pages` pages, following `nextCursor`, into one list.
// Pure apart from `fetchPage(cursor)`, so node tests drive it with a fake.

/**
 * Read pages until `pages` have been read or the server says there are no more. Returns the auctions in the
 * server's order (soonest ending first) without duplicates (a page boundary can move between reads), and the
 * cursor of the page after the last one read (`null`: nothing more).
 */
export async function readPages(fetchPage, pages) {
  const seen = new Set();
  const auctions = [];
  let cursor = null;
  for (let i = 0; i < Math.max(1, pages); i++) {
    const r = await fetchPage(cursor);
    for (const a of r?.auctions || []) {
      if (seen.has(a.auctionId)) continue;
      seen.add(a.auctionId);
      auctions.push(a);
    }
    cursor = typeof r?.nextCursor === "string" && r.nextCursor ? r.nextCursor : null;
    if (!cursor) break;
  }
  return { auctions, nextCursor: cursor };
}
