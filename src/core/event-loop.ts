/** Resolves on the event loop's next turn, after the I/O that is ready now has been served. */
export const yieldToEventLoop = (): Promise<void> => new Promise<void>((resolve) => setImmediate(resolve));
