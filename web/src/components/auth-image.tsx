/** An image behind an authenticated redirect (/v1/images/ID/file): see resolveSignedUrl. */
import { Center, Image, Skeleton, Text } from '@mantine/core';
import { useSignedUrl } from '../api/queries';

export function AuthImage({ path, alt, h = 140 }: { path: string; alt: string; h?: number }) {
  const url = useSignedUrl(path);
  if (url.isPending) return <Skeleton h={h} />;
  if (url.isError)
    return (
      <Center h={h} bg="gray.1">
        <Text size="xs" c="dimmed">
          image unavailable
        </Text>
      </Center>
    );
  return <Image src={url.data} alt={alt} h={h} fit="cover" radius="sm" />;
}
