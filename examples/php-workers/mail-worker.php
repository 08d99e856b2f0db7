<?php
// The mail worker: takes messages from Redis and reports what it would send. It has no database
// (its only relationship is redis).

declare(strict_types=1);

require __DIR__ . '/vendor/autoload.php';

use Jobs\Services;

$stopping = false;
pcntl_async_signals(true);
pcntl_signal(SIGTERM, function () use (&$stopping): void {
    $stopping = true;
});

while (!$stopping) {
    try {
        $redis = Services::redis();
        echo "mail worker waiting for messages\n";
        while (!$stopping) {
            $item = $redis->blPop(['mail'], 1);
            if ($item) {
                $message = json_decode($item[1], true);
                echo "would send mail to {$message['to']}\n";
            }
        }
    } catch (\Throwable $error) {
        if ($stopping) {
            break;
        }
        echo "mail worker: " . $error->getMessage() . "; retrying in 1 s\n";
        sleep(1);
    }
}
exit(0);
