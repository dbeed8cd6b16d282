import { parseSort, toggleSort } from '../lib/urlFilters.js';

export function SortHeader({ label, field, sort, onSort }: { label: string; field: string; sort: string; onSort: (s: string) => void }) {
  const current = parseSort(sort);
  const active = current?.field === field;
  const aria = active ? (current.direction === 'ASC' ? 'ascending' : 'descending') : 'none';
  return (
    <th aria-sort={aria}>
      <button type="button" className="sort" onClick={() => onSort(toggleSort(sort, field))}>
        {label}
        <span aria-hidden="true">{active ? (current.direction === 'ASC' ? ' ▲' : ' ▼') : ''}</span>
      </button>
    </th>
  );
}
