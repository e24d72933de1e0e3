// perse-node-local is used through perse-node (`startLocalServer`, `npx perse-node serve`);
// these are the internals perse-node reads.

/** This package's version; perse-node requires the same version as its own. */
export declare const version: string
/** The folder holding the face engine's weight files. */
export declare const weightsDir: string
/** The native binding (loaded on first call). */
export declare function native(): typeof import('./binding')
