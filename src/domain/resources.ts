// Resource rules of docs/engines.md "Resources", in one place.

export const LIMITS = {
  cpu: { min: 256, max: 60_000 },
  memory: { min: 512, max: 350_000 },
  gpu: { max: 64 },
  ephemeralStorage: { max: 10_000_000 },
} as const;

export function clamp(n: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, n));
}

/** Effective cpu/memory: run override → definition → minimum, clamped to the limits. */
export function effectiveResources(
  override: { cpu?: number | null; memory?: number | null },
  definition: { cpu?: number | null; memory?: number | null },
): { cpu: number; memory: number } {
  const cpu = override.cpu || definition.cpu || LIMITS.cpu.min;
  const memory = override.memory || definition.memory || LIMITS.memory.min;
  return {
    cpu: clamp(cpu, LIMITS.cpu.min, LIMITS.cpu.max),
    memory: clamp(memory, LIMITS.memory.min, LIMITS.memory.max),
  };
}

/** Kubernetes cpu in millicores, rounded up to 250m steps. */
export function kubernetesMillicores(cpu: number): number {
  return Math.ceil(cpu / 250) * 250;
}
