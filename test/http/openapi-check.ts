import { readFileSync } from 'node:fs';
import { parse } from 'yaml';

interface OpenApiDocument {
  openapi: string;
  paths: Record<string, Record<string, { responses: Record<string, unknown> }>>;
}

export const openApiDocument = parse(readFileSync('openapi.yaml', 'utf8')) as OpenApiDocument;

/** Entries `"<template> <METHOD> <status>"` that openapi.yaml does not describe. */
export function undocumented(entries: Iterable<string>): string[] {
  return [...entries].filter((entry) => {
    const [template = '', method = '', status = ''] = entry.split(' ');
    const path = openApiDocument.paths[template];
    if (path?.[method.toLowerCase()]?.responses[status]) return false;
    // 405 answers methods the path does not have; it is documented once, on GET.
    return !(status === '405' && path?.get?.responses['405']);
  });
}
