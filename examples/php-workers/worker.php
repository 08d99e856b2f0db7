<?php
// The queue worker: takes jobs from Redis and writes each into MariaDB.
//
// On SIGTERM it finishes the job in hand, then exits (the platform sends SIGTERM, then SIGKILL
// 15 s later). A service not ready yet is said and retried, as a worker should.

declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

use Jobs\Services;
use Jobs\Store;

$stopping = false;
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function () use (&$stopping): void {
    $stopping = true;
    echo "SIGTERM: finishing the job in hand, then exiting\n";
});

$name = getenv('PLATFORM_APPLICATION_NAME') ?: 'queue';
while (!$stopping) {
    try {
        $store = new Store(Services::mysql());
        $redis = Services::redis();
        echo "$name (TYPE=" . getenv('TYPE') . ", memory_limit=" . ini_get('memory_limit') . ") waiting for jobs\n";
        while (!$stopping) {
            $item = $redis->blPop(['jobs'], 1);  // at most 1 s, so that a SIGTERM is seen
            if (!$item) {
                continue;
            }
            $job = json_decode($item[1], true);
            $store->save($job['id'], $job['payload'], $name);
            echo "job {$job['id']} done\n";
        }
    } catch (\Throwable $error) {
        if ($stopping) {
            break;
        }
        echo "queue worker: " . $error->getMessage() . "; retrying in 1 s\n";
        sleep(1);
    }
}
exit(0);
