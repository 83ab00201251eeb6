export declare function gitRevision(cwd: string): string | undefined;
export declare function buildVersion(root: string): string;
