<?php
// Loads the client without Composer (composer.json's "files" autoload names the same files).
require_once __DIR__ . '/src/Protocol.php';
require_once __DIR__ . '/src/Fold.php';
require_once __DIR__ . '/src/Client.php';
require_once __DIR__ . '/src/Metrics.php';
