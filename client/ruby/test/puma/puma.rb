# frozen_string_literal: true

# Cluster mode as production runs it: the app is loaded once in the master (its metrics are
# declared there), then 4 workers are forked; each has its own connection to metricsd.
dir = ENV.fetch('PUMA_TEST_DIR')
workers 4
threads 2, 4
preload_app!
bind "unix://#{dir}/puma.sock"
rackup File.join(__dir__, 'config.ru')
pidfile "#{dir}/puma.pid"
worker_check_interval 1
on_worker_boot { PumaApp::UP.set(1) }
