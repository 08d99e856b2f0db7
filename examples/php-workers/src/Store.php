<?php
// The jobs table in MariaDB: the queue worker writes rows, the web lists them.

declare(strict_types=1);

namespace Jobs;

final class Store
{
    public function __construct(private \PDO $db)
    {
        $db->exec('CREATE TABLE IF NOT EXISTS jobs (id VARCHAR(36) PRIMARY KEY, payload TEXT, worker VARCHAR(64), '
            . 'done_at DATETIME DEFAULT CURRENT_TIMESTAMP)');
    }

    public function save(string $id, string $payload, string $worker): void
    {
        $this->db->prepare('REPLACE INTO jobs (id, payload, worker) VALUES (?, ?, ?)')->execute([$id, $payload, $worker]);
    }

    /** @return list<array<string, string>> */
    public function all(): array
    {
        return $this->db->query('SELECT id, payload, worker FROM jobs ORDER BY done_at, id')->fetchAll(\PDO::FETCH_ASSOC);
    }
}
