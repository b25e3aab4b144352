export function removeCgroups(owned: (name: string) => boolean): string[];
export function pidAlive(pid: number): boolean;
