<?php
// The web instance's front controller (passthru: /index.php), run by PHP-FPM:
//
//   POST /jobs   body: any text   -> 202 {"id": ...}; the queue worker writes it to MariaDB
//   GET  /jobs                    -> 200, the jobs the queue worker has written
//   POST /mail   body: an address -> 202; the mail worker reports what it would send
//   GET  /                        -> 200 {"type": ..., "app": ..., "memory_limit": ...}

declare(strict_types=1);

require __DIR__ . '/../vendor/autoload.php';

use Jobs\Services;
use Jobs\Store;

function reply(int $status, array $body): void
{
    http_response_code($status);
    header('Content-Type: application/json');
    echo json_encode($body), "\n";
}

$method = $_SERVER['REQUEST_METHOD'] ?? 'GET';
$path = parse_url($_SERVER['REQUEST_URI'] ?? '/', PHP_URL_PATH) ?: '/';
$body = (string) file_get_contents('php://input');

if ($method === 'POST' && $path === '/jobs') {
    $job = ['id' => bin2hex(random_bytes(16)), 'payload' => $body];
    Services::redis()->rPush('jobs', json_encode($job));
    reply(202, ['id' => $job['id']]);
} elseif ($method === 'GET' && $path === '/jobs') {
    reply(200, ['jobs' => (new Store(Services::mysql()))->all()]);
} elseif ($method === 'POST' && $path === '/mail') {
    Services::redis()->rPush('mail', json_encode(['to' => trim($body)]));
    reply(202, ['queued' => trim($body)]);
} elseif ($method === 'GET' && $path === '/') {
    reply(200, [
        'type' => getenv('TYPE') ?: null,
        'app' => getenv('PLATFORM_APPLICATION_NAME') ?: null,
        'memory_limit' => ini_get('memory_limit'),
        'sapi' => PHP_SAPI,
    ]);
} else {
    reply(404, ['error' => "no route for $method $path"]);
}
