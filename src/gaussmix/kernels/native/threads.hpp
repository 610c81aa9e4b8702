// The process-wide thread cap, exported for threadpoolctl (threads.cpp).
#pragma once

extern "C" {
int gaussmix_get_num_threads(void);
int gaussmix_set_num_threads(int n);
}
