<?php
// Connections to the example's services, from the relationships the platform (or sunup) gives
// in PLATFORM_RELATIONSHIPS (base64 of JSON: name => list of endpoints).

declare(strict_types=1);

namespace Jobs;

final class Services
{
    /** @return array<string, mixed> the first endpoint of relationship `$name` */
    public static function relationship(string $name): array
    {
        $encoded = getenv('PLATFORM_RELATIONSHIPS') ?: ($_SERVER['PLATFORM_RELATIONSHIPS'] ?? '');
        $all = json_decode((string) base64_decode($encoded, true), true);
        if (!is_array($all) || empty($all[$name][0])) {
            throw new \RuntimeException("no relationship '$name' in this instance");
        }
        return $all[$name][0];
    }

    public static function mysql(): \PDO
    {
        $db = self::relationship('mysql');
        $dsn = sprintf('mysql:host=%s;port=%d;dbname=%s;charset=utf8mb4', $db['host'], $db['port'], $db['path']);
        return new \PDO($dsn, $db['username'], $db['password'], [\PDO::ATTR_ERRMODE => \PDO::ERRMODE_EXCEPTION]);
    }

    public static function redis(): \Redis
    {
        $endpoint = self::relationship('redis');
        $redis = new \Redis();
        $redis->connect($endpoint['host'], (int) $endpoint['port'], 5.0);
        return $redis;
    }
}
