/** Environment variables as a name/value table (run and task pages). */
export function EnvTable({ env }: { env: readonly { name: string; value: string }[] }) {
  return (
    <table className="env">
      <tbody>
        {env.map((e) => (
          <tr key={e.name}>
            <th scope="row" className="mono">
              {e.name}
            </th>
            <td className="mono">{e.value}</td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
