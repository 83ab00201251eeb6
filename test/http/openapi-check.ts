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

/**
 * Statuses one of a path's GET and HEAD documents and the other does not: HEAD runs the GET route
 * and only drops the body, so it answers every status GET does (405 is documented on GET alone).
 */
export function headGaps(): string[] {
  const gaps: string[] = [];
  for (const [template, path] of Object.entries(openApiDocument.paths)) {
    if (!path.get || !path.head) continue;
    const get = Object.keys(path.get.responses).filter((status) => status !== '405');
    const head = Object.keys(path.head.responses);
    for (const status of get) if (!head.includes(status)) gaps.push(`${template} HEAD ${status}`);
    for (const status of head) if (!get.includes(status)) gaps.push(`${template} GET ${status}`);
  }
  return gaps;
}
