-- Shared counters (PostgreSQL's 0010) are not kept in SQLite: one SQLite
-- database serves one server process, whose counters live in its memory.
-- This migration keeps the two engines' numbering in step.
SELECT 1;
