interface PageInfo {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor?: string | null;
  endCursor?: string | null;
}

/** Keyset paging: the cursors go into the URL, so a page can be shared too. */
export function Pager({
  pageInfo,
  total,
  shown,
  onPage,
}: {
  pageInfo: PageInfo;
  total: number;
  shown: number;
  onPage: (p: { after?: string; before?: string }) => void;
}) {
  return (
    <nav className="pager" aria-label="Pages">
      <span>
        {shown} shown of {total}
      </span>
      <button
        type="button"
        disabled={!pageInfo.hasPreviousPage || !pageInfo.startCursor}
        onClick={() => onPage({ before: pageInfo.startCursor ?? '', after: '' })}
      >
        ← Previous
      </button>
      <button type="button" disabled={!pageInfo.hasNextPage || !pageInfo.endCursor} onClick={() => onPage({ after: pageInfo.endCursor ?? '', before: '' })}>
        Next →
      </button>
    </nav>
  );
}
